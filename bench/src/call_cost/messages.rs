//! What the clients say: a Chrome-like offer and answer, trickled candidates, `bye`, each as the
//! web client sends it.

use std::fmt::Write as _;

/// A Chrome-like audio and video offer (or answer): Opus and the usual audio codecs, VP8, VP9,
/// H.264 in six profiles, AV1, RED and ULPFEC, each video codec with its RTX, BUNDLE on one
/// transport. About 5 KB, the size of a desktop Chrome description.
fn sdp(answer: bool) -> String {
    let mut s = String::new();
    let fingerprint = (0..32)
        .map(|i| format!("{:02X}", (i * 37 + 11) % 256))
        .collect::<Vec<_>>()
        .join(":");
    let setup = if answer { "active" } else { "actpass" };
    let ice = if answer {
        ("Xk3q", "dP1qL0rT8vW2yZ4bN6mC9xHs")
    } else {
        ("a7Fz", "9nQwR3tY6uI0oP2aS5dF8gJk")
    };
    let _ = write!(
        s,
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream0\r\n"
    );
    let common = |s: &mut String, mid: u8| {
        let _ = write!(
            s,
            "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n\
             a=ice-options:trickle\r\na=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\n\
             a=mid:{mid}\r\n",
            ice.0, ice.1
        );
    };
    s.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n");
    common(&mut s, 0);
    for (id, uri) in [
        (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        (
            2,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        ),
        (
            3,
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        ),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    ] {
        let _ = write!(s, "a=extmap:{id} {uri}\r\n");
    }
    s.push_str(
        "a=sendrecv\r\na=msid:stream0 6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f\r\na=rtcp-mux\r\n\
         a=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n\
         a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n\
         a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n\
         a=rtpmap:126 telephone-event/8000\r\na=ssrc:3735928559 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:3735928559 msid:stream0 6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f\r\n",
    );
    let h264 = |mode: u8, profile: &str| {
        format!("level-asymmetry-allowed=1;packetization-mode={mode};profile-level-id={profile}")
    };
    let video: Vec<(u16, &str, Option<String>)> = vec![
        (96, "VP8/90000", None),
        (98, "VP9/90000", Some("profile-id=0".into())),
        (100, "VP9/90000", Some("profile-id=2".into())),
        (102, "H264/90000", Some(h264(1, "42001f"))),
        (104, "H264/90000", Some(h264(0, "42001f"))),
        (106, "H264/90000", Some(h264(1, "42e01f"))),
        (108, "H264/90000", Some(h264(0, "42e01f"))),
        (112, "H264/90000", Some(h264(1, "4d001f"))),
        (127, "H264/90000", Some(h264(1, "64001f"))),
        (45, "AV1/90000", Some("level-idx=5;profile=0;tier=0".into())),
    ];
    let pts: Vec<String> = video
        .iter()
        .flat_map(|(pt, _, _)| [pt.to_string(), (pt + 1).to_string()])
        .chain(["116", "117", "118"].map(String::from))
        .collect();
    let _ = write!(s, "m=video 9 UDP/TLS/RTP/SAVPF {}\r\n", pts.join(" "));
    common(&mut s, 1);
    for (id, uri) in [
        (14, "urn:ietf:params:rtp-hdrext:toffset"),
        (
            2,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        ),
        (13, "urn:3gpp:video-orientation"),
        (
            3,
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        ),
        (
            5,
            "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        ),
        (
            6,
            "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
        ),
        (
            7,
            "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
        ),
        (
            8,
            "http://www.webrtc.org/experiments/rtp-hdrext/color-space",
        ),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        (10, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
        (11, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
    ] {
        let _ = write!(s, "a=extmap:{id} {uri}\r\n");
    }
    s.push_str(
        "a=sendrecv\r\na=msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\na=rtcp-mux\r\n\
         a=rtcp-rsize\r\n",
    );
    for (pt, codec, fmtp) in &video {
        let _ = write!(s, "a=rtpmap:{pt} {codec}\r\n");
        for fb in ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"] {
            let _ = write!(s, "a=rtcp-fb:{pt} {fb}\r\n");
        }
        if let Some(f) = fmtp {
            let _ = write!(s, "a=fmtp:{pt} {f}\r\n");
        }
        let _ = write!(
            s,
            "a=rtpmap:{} rtx/90000\r\na=fmtp:{} apt={pt}\r\n",
            pt + 1,
            pt + 1
        );
    }
    s.push_str(
        "a=rtpmap:116 red/90000\r\na=rtpmap:117 rtx/90000\r\na=fmtp:117 apt=116\r\n\
         a=rtpmap:118 ulpfec/90000\r\na=ssrc-group:FID 2882400001 2882400002\r\n\
         a=ssrc:2882400001 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:2882400001 msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\n\
         a=ssrc:2882400002 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:2882400002 msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\n",
    );
    s
}

/// A message as the web client sends it (`JSON.stringify` of the description or candidate).
pub fn description(answer: bool) -> String {
    serde_json::json!({"type": if answer { "answer" } else { "offer" }, "sdp": sdp(answer)})
        .to_string()
}

/// The `n`th candidate a client gathers: host, then server-reflexive, then relay (TURN).
pub fn candidate(n: usize) -> String {
    let line = match n % 3 {
        0 => format!(
            "candidate:{} 1 udp 2122260223 192.168.1.{} 5{:04} typ host generation 0 ufrag a7Fz network-id 1 network-cost 10",
            3_900_000_000u64 + n as u64,
            20 + n,
            n
        ),
        1 => format!(
            "candidate:{} 1 udp 1686052607 203.0.113.{} 6{:04} typ srflx raddr 192.168.1.20 rport 5{:04} generation 0 ufrag a7Fz network-id 1 network-cost 10",
            842_163_049u64 + n as u64,
            7 + n,
            n,
            n
        ),
        _ => format!(
            "candidate:{} 1 udp 41885439 198.51.100.{} 4{:04} typ relay raddr 203.0.113.7 rport 6{:04} generation 0 ufrag a7Fz network-id 1 network-cost 10",
            1_052_210_495u64 + n as u64,
            9 + n,
            n,
            n
        ),
    };
    serde_json::json!({"type": "candidate", "label": 0, "id": "0", "candidate": line}).to_string()
}

/// The message a client sends when it hangs up.
pub const BYE: &str = r#"{"type":"bye"}"#;
