fn main() -> Result<(), lambda_runtime::Error> {
    seclog::event_source::serve(stream_delivery::StreamDelivery::build)
}
