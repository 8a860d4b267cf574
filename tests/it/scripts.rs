//! The shell helpers of `scripts/`, sourced as the measuring scripts source them, with
//! `cargo` stubbed out (the tests check where they look, not a release build).

use std::process::Command;

/// What `prepare` of `scripts/measure-lib.sh` sets IOMODELS to, with this
/// CARGO_TARGET_DIR (unset for `None`).
fn prepared_binary(target_dir: Option<&str>) -> String {
    let mut bash = Command::new("bash");
    bash.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "-c",
        r#"cargo() { :; }; PORT=1; . scripts/measure-lib.sh; prepare; echo "$IOMODELS""#,
    ]);
    match target_dir {
        Some(dir) => bash.env("CARGO_TARGET_DIR", dir),
        None => bash.env_remove("CARGO_TARGET_DIR"),
    };
    let out = bash.output().expect("run bash");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn prepare_finds_the_binary_where_cargo_target_dir_puts_it() {
    assert_eq!(
        prepared_binary(Some("/tmp/elsewhere")),
        "/tmp/elsewhere/release/iomodels"
    );
    assert_eq!(prepared_binary(None), "target/release/iomodels");
}
