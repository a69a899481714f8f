//! How the webview paints. WebKitGTK's accelerated compositing draws the page as layers and
//! tiles; where there is no usable GPU — Xvfb here, and the cheap tablets the app is for, whose
//! GL drivers are often software or unreliable — it does that work on the CPU, in several threads,
//! for the whole of a long page. Measured on the keying screen (`app_measures`): about a core's
//! worth of CPU for three seconds after the screen opens, and most of each key's cost, against a
//! tenth of that painting the page directly. The app's screens are plain documents with no
//! animation or 3-D.
//!
//! The camera is the exception: once a camera stream has played without the compositor,
//! WebKitGTK stops answering snapshot requests (seen through WebDriver), and the camera is only
//! for enrolling. So a tablet that starts enrolled — every working day after the first — paints
//! without the compositor, and one that starts to be enrolled keeps it for that run.

/// Starts WebKit without its compositor; to be called before the first webview is made, as
/// WebKit reads this once, when it starts. Setting the webview's acceleration policy after the
/// window exists (what the app did first) also stops the compositing, but only after WebKit
/// has started it: starting without it measured 5–25 % less CPU per start (`app_measures`).
pub fn paint_without_compositing() {
    // Read by WebKitGTK on every platform it runs on; ignored by other webviews.
    std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
}
