//! The camera, for reading the enrollment QR code on the set-up screen. WebKitGTK (the Linux
//! webview) ships with media streams off and refuses every permission request nobody answers,
//! so the app turns streams on and grants exactly one kind of request: video capture, asked by
//! the app's own page. Microphones, screens, locations and notifications stay refused. Other
//! platforms' webviews ask the OS, which asks the enumerator.
//!
//! `FIELDPOST_MOCK_CAMERA=1` gives the webview WebKit's simulated cameras instead of real ones:
//! the end-to-end test uses it to open a camera on a machine that has none.

#[cfg(target_os = "linux")]
pub fn allow_camera(window: &tauri::WebviewWindow) {
    use webkit2gtk::glib::object::Cast;
    use webkit2gtk::{
        PermissionRequestExt, SettingsExt, UserMediaPermissionRequest,
        UserMediaPermissionRequestExt, WebViewExt,
    };
    let mock = std::env::var("FIELDPOST_MOCK_CAMERA").is_ok_and(|v| v == "1");
    let result = window.with_webview(move |platform| {
        let webview = platform.inner();
        if let Some(settings) = WebViewExt::settings(&webview) {
            settings.set_enable_media_stream(true);
            if mock {
                settings.set_enable_mock_capture_devices(true);
            }
        }
        webview.connect_permission_request(|webview, request| {
            let own_page = webview
                .uri()
                .is_some_and(|uri| uri.starts_with("tauri://localhost"));
            match request.downcast_ref::<UserMediaPermissionRequest>() {
                Some(media)
                    if own_page && media.is_for_video_device() && !media.is_for_audio_device() =>
                {
                    request.allow();
                }
                _ => request.deny(),
            }
            true
        });
    });
    if let Err(e) = result {
        eprintln!("the camera stays off: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn allow_camera(_window: &tauri::WebviewWindow) {}
