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

/// How long the caret's blink takes, on and off (GTK's default is 1,200 ms). Without a compositor
/// each blink is a repaint handed from WebKit's web process to the window, and WebKit's display
/// refresh then runs for a while after it. With a box focused and nobody typing, the keying
/// screen cost 10.6–12.0 ms of CPU a second at 1,200 ms and 6.7–8.4 ms at 2,400 ms, against
/// 3.6–4.4 ms with no box focused (`app_measures`). A keyer spends the day with a box focused.
/// A caret that does not blink at all (`gtk-cursor-blink` off) is worse, not better: WebKit
/// 2.50 then redraws the page sixty times a second (31–36 ms of CPU a second, same bench).
const CARET_BLINK_CYCLE_MS: i32 = 2_400;

/// Sets the caret's blink for every text box of the app. WebKit reads GTK's settings from the
/// app's process, so this runs once GTK has started: in the app's setup, on the window's thread.
#[cfg(target_os = "linux")]
pub fn slow_caret_blink() {
    use gtk::prelude::GtkSettingsExt;
    if let Some(settings) = gtk::Settings::default() {
        settings.set_gtk_cursor_blink_time(CARET_BLINK_CYCLE_MS);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn slow_caret_blink() {}
