#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apprtc_local::fuzzing::websocket_frames(data));
