fn main() -> Result<(), lambda_runtime::Error> {
    seclog::event_source::serve(stream_fanout::StreamFanout::build)
}
