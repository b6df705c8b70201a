//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' entry
//! points, so every input a fuzzing run kept is checked by every test run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn replay(target: &str, run: fn(&[u8])) {
    let dir = format!("{}/../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {dir}");
}

#[test]
fn relay_frame_corpus() {
    replay("relay_frame", room::fuzzing::relay_frame);
}

#[test]
fn signaling_message_corpus() {
    replay("signaling_message", room::fuzzing::signaling_message);
}

#[test]
fn ids_and_paths_corpus() {
    replay("ids_and_paths", room::fuzzing::ids_and_paths);
}

#[test]
fn lambda_event_corpus() {
    replay("lambda_event", room::fuzzing::lambda_event);
}
