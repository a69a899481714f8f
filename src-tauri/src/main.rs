// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    fieldpost_app::STARTED.get_or_init(std::time::Instant::now);
    fieldpost_app::run()
}
