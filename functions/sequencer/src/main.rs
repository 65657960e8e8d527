fn main() -> Result<(), lambda_runtime::Error> {
    seclog::event_source::serve(sequencer::SequencerFunction::build)
}
