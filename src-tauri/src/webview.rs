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

#[cfg(target_os = "linux")]
pub fn paint_without_compositing(window: &tauri::WebviewWindow) {
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
    let result = window.with_webview(|platform| {
        if let Some(settings) = WebViewExt::settings(&platform.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(e) = result {
        eprintln!("the webview keeps its compositing: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn paint_without_compositing(_window: &tauri::WebviewWindow) {}
