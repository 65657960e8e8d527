fn main() -> Result<(), lambda_runtime::Error> {
    seclog::event_source::serve(ingest_queue::IngestQueue::build)
}
