//! `make screenshots`: the demo page as `make dev` shows it (the walk-through's data, events/demo/,
//! Alice's account), in headless Chromium at a desktop and a phone width, saved as PNGs for the
//! README. Usage: `screenshots [DIR]` (default `docs/screenshots`).

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::browser::{Browser, BrowserOptions};
use integration_tests::spawn_app;

/// Width, height, file name.
const SHOTS: [(u32, u32, &str); 2] = [
    (1280, 1250, "security-logs-desktop.png"),
    (390, 1500, "security-logs-phone.png"),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "docs/screenshots".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let app = spawn_app().await;
    dev_server::demo::seed(&app.app).await?;
    // Let the sequencer sign a checkpoint, so the page's integrity line is in the picture.
    for _ in 0..100 {
        if app
            .get_text("acct_demo", "/v1/integrity/checkpoint")
            .await
            .0
            == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (width, height, _) = SHOTS[0];
    let browser = Browser::start(BrowserOptions {
        width,
        height,
        ..BrowserOptions::default()
    })
    .await;
    // The page's own default: Alice's demo account, picked in its header.
    browser.goto(&format!("{}/", app.base)).await;
    for (width, height, name) in SHOTS {
        browser.set_window_size(width, height).await;
        browser
            .wait_for(
                "the list and its integrity line",
                "const root = document.querySelector('security-logs').shadowRoot;
                 return root.querySelector('section').dataset.state === 'ready'
                     && !root.querySelector('.integrity').hidden",
            )
            .await;
        // Layout settles after a resize within a frame or two.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let path = dir.join(name);
        std::fs::write(&path, browser.screenshot().await)?;
        println!("{}", path.display());
    }
    browser.quit().await;
    Ok(())
}
