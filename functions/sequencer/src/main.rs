use lambda_runtime::{Error, LambdaEvent, service_fn};
use seclog::config::Stack;
use sequencer::SequencerFunction;

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            seclog::telemetry::init_json();
            let function = SequencerFunction::build(&Stack::from_env().await?)?;
            let function = &function;
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<serde_json::Value>| async move { function.invoke(event).await },
            ))
            .await
        })
}
