fn main() -> Result<(), lambda_runtime::Error> {
    seclog::event_source::serve(export_worker::Worker::build)
}
