//! Replays the committed corpus of the `websocket_frames` fuzz target
//! (`fuzz/corpus/websocket_frames/`) through its entry point, as `shared/tests/room_suite/fuzz_corpus.rs`
//! does for the `room` targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn websocket_frames_corpus() {
    let dir = format!(
        "{}/../fuzz/corpus/websocket_frames",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.unwrap().path();
        apprtc_local::fuzzing::websocket_frames(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {dir}");
}
