fn main() {
    // Migrations are embedded at compile time: a new file must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
}
