// One window showing a static page: what any Tauri 2 app costs before it does anything.
fn main() {
    tauri::Builder::default().run(tauri::generate_context!()).expect("the bare window runs");
}
