//! The web client in real browsers: headless Chromium instances, driven through chromedriver
//! with a small WebDriver client (JSON wire protocol over the hyper-util client), make a call
//! through `apprtc-local` over TLS; hang up, peer left, rejoin, and "Room full" for a third.
//!
//! Needs `/usr/bin/chromedriver` and Chromium (Debian: `apt-get install chromium chromium-driver`).
//! Without them the browser test is skipped with a message, unless `APPRTC_REQUIRE_BROWSER=1`.
//! Screenshots go to `target/artifacts/browser/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use common::{TempDir, TestServer};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The Chromium binary itself (Debian's `/usr/bin/chromium` is a wrapper script).
const CHROMIUM_CANDIDATES: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];
/// Longest a call may take to connect, or a state to appear, on a busy 2-core machine.
const CALL_WAIT: Duration = Duration::from_secs(60);
/// Longest one WebDriver command may take (starting a browser is the slow one).
const COMMAND_WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(200);

// ------------------------------------------------------------------- no browser needed

#[tokio::test]
async fn static_files_are_served_with_types_and_revalidation() {
    let server = TestServer::start().await;
    let js = server.get("/static/app.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("cache-control"), Some("no-cache"));
    assert_eq!(js.body, room::http::pages::APP_JS);
    let etag = js.header("etag").expect("etag").to_owned();
    let again = server
        .request(
            "GET",
            "/static/app.js",
            Bytes::new(),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let css = server.get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_ne!(css.header("etag"), Some(etag.as_str()));

    assert_eq!(server.get("/static/nope.js").await.status, 404);
    assert_eq!(
        server.post("/static/app.js", Bytes::new()).await.status,
        405
    );
}

#[tokio::test]
async fn room_page_loads_the_client_and_full_page_shares_its_style() {
    let server = TestServer::start().await;
    let page = server.get("/r/browserpage?debug=loopback").await;
    assert!(page.body.contains("/static/app.js"), "{}", page.body);
    assert!(page.body.contains("/static/app.css"));
    assert!(page.body.contains(r#""query":[["debug","loopback"]]"#));
}

#[tokio::test]
async fn qr_code_of_a_link_is_an_svg_and_long_text_is_refused() {
    let server = TestServer::start().await;
    let qr = server
        .get("/qr.svg?text=https%3A%2F%2F192.168.1.20%3A8443%2Fr%2Froom1")
        .await;
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
    assert!(qr.body.contains("<svg"), "{}", qr.body);

    let limit = "a".repeat(512);
    assert_eq!(
        server.get(&format!("/qr.svg?text={limit}")).await.status,
        200
    );
    let long = "a".repeat(513);
    assert_eq!(
        server.get(&format!("/qr.svg?text={long}")).await.status,
        400
    );
    assert_eq!(server.get("/qr.svg").await.status, 400);
    assert_eq!(server.get("/qr.svg?text=").await.status, 400);
}

// ------------------------------------------------------------------- the browser test

/// Browser tests run one at a time: one two-browser call keeps both cores busy.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What every browser test stands on: its turn among the browser tests, a directory of its own
/// (server state, browser profiles), `apprtc-local` over TLS and chromedriver, whose log and the
/// browsers' screenshots go to the artifacts directory.
struct BrowserRig {
    server: TlsServer,
    driver: Chromedriver,
    /// `target/artifacts/browser/` (under `CARGO_TARGET_DIR` when set).
    artifacts: PathBuf,
    tmp: TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl BrowserRig {
    /// Waits for the test's turn and starts a server with `flags` and chromedriver, both named
    /// after `name` (the temporary directory, the chromedriver log); `None` where there are no
    /// browsers (the test is skipped).
    async fn start(name: &str, flags: &[&str]) -> Option<Self> {
        if !browsers_available() {
            return None;
        }
        let turn = ONE_AT_A_TIME.lock().await;
        let artifacts = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("artifacts/browser");
        std::fs::create_dir_all(&artifacts).expect("artifacts dir");
        let tmp = TempDir::new(&format!("apprtc-{name}"));
        let server = TlsServer::start(&tmp.join("state"), flags).await;
        let driver = Chromedriver::start(&artifacts.join(format!("chromedriver-{name}.log"))).await;
        Some(Self {
            server,
            driver,
            artifacts,
            tmp,
            _turn: turn,
        })
    }

    /// The server's URL of `path` (which starts with `/`).
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.server.addr)
    }

    /// A fresh headless Chromium with a fake camera and microphone, its window `size`.
    /// `extra` flags replace defaults of the same name.
    async fn browser(&self, name: &str, size: (u32, u32), extra: &[&str]) -> Browser {
        self.driver
            .browser(name, size, &self.tmp, &self.artifacts, extra)
            .await
    }

    /// Two browsers of one size, `<name>-a` and `<name>-b`.
    async fn two_browsers(&self, name: &str, size: (u32, u32)) -> (Browser, Browser) {
        (
            self.browser(&format!("{name}-a"), size, &[]).await,
            self.browser(&format!("{name}-b"), size, &[]).await,
        )
    }

    /// Ends the browsers' sessions, stops chromedriver and then the server, and waits for the
    /// server to finish; the next browser test's turn comes after.
    async fn finish(self, browsers: impl IntoIterator<Item = Browser>) {
        for b in browsers {
            b.quit().await;
        }
        let Self { server, driver, .. } = self;
        drop(driver);
        server.shutdown().await;
    }
}

/// Whether browser tests can run (a missing chromedriver fails with `APPRTC_REQUIRE_BROWSER=1`).
fn browsers_available() -> bool {
    if Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var("APPRTC_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("APPRTC_REQUIRE_BROWSER=1 but {CHROMEDRIVER} is missing");
    }
    eprintln!(
        "SKIPPED browser test: {CHROMEDRIVER} not found \
         (apt-get install chromium chromium-driver; APPRTC_REQUIRE_BROWSER=1 makes this fail)"
    );
    false
}

/// One test drives all browsers, in order: Chromium is heavy, and the steps build on each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_call_hang_up_rejoin_and_third_sees_room_full() {
    let Some(rig) = BrowserRig::start("browser", &[]).await else {
        return;
    };
    let started = Instant::now();
    let room = format!("browser{}", std::process::id());
    let url = rig.url(&format!("/r/{room}"));

    // A on a desktop-sized window, B on a phone-sized one (portrait).
    let a = rig.browser("a", (1280, 800), &[]).await;
    let b = rig.browser("b", (412, 915), &[]).await;
    eprintln!("[{:>5.1}s] browsers up", started.elapsed().as_secs_f64());

    a.goto(&url).await;
    a.wait_state(&["waiting"]).await;
    assert_eq!(a.js("return window.__apprtc.isInitiator").await, true);
    a.wait_for("the room link and its QR code", "const q = document.getElementById('qr'); \
                return [document.getElementById('room-link').value, q.complete && q.naturalWidth > 0, \
                        !document.getElementById('invite').hidden]", |v| v[1] == true)
        .await;
    a.screenshot("waiting").await;
    b.goto(&url).await;
    wait_all_connected(&[&a, &b]).await;
    assert_eq!(b.js("return window.__apprtc.isInitiator").await, false);
    for p in [&a, &b] {
        p.wait_remote_video_playing().await;
        let pair = p.js("return window.__apprtc.selectedCandidateType()").await;
        eprintln!("{}: selected candidate pair {pair}", p.name);
        assert!(
            pair["local"].is_string() && pair["remote"].is_string(),
            "{pair}"
        );
        let sound = p
            .js("return !document.getElementById('remote-video').muted")
            .await;
        eprintln!("{}: remote audio autoplayed unmuted: {sound}", p.name);
        p.screenshot("connected").await;
    }
    eprintln!("[{:>5.1}s] call connected", started.elapsed().as_secs_f64());

    // Mute and camera off only change our own tracks.
    for (button, kind) in [("mute", "audio"), ("camera", "video")] {
        a.click(button).await;
        let v = a
            .js(&format!(
                "const s = document.getElementById('local-video').srcObject; \
                 return [document.getElementById('{button}').getAttribute('aria-pressed'), \
                         s.get{}Tracks()[0].enabled]",
                if kind == "audio" { "Audio" } else { "Video" }
            ))
            .await;
        assert_eq!(v, json!(["true", false]), "{button}");
        a.click(button).await;
    }
    assert_eq!(a.state().await, "connected");

    // A hangs up: B is told, becomes the initiator and waits for someone new.
    a.click("hangup").await;
    a.wait_state(&["idle"]).await;
    b.wait_state(&["peer-left"]).await;
    assert_eq!(b.js("return window.__apprtc.isInitiator").await, true);
    b.screenshot("peer-left").await;
    a.screenshot("hung-up").await;
    eprintln!("[{:>5.1}s] hung up", started.elapsed().as_secs_f64());

    // A rejoins as the joiner and gets B's new offer from the room server.
    a.click("rejoin").await;
    wait_all_connected(&[&a, &b]).await;
    wait_all_video_playing(&[&a, &b]).await;
    assert_eq!(a.js("return window.__apprtc.isInitiator").await, false);
    for p in [&a, &b] {
        p.screenshot("rejoined").await;
    }
    eprintln!("[{:>5.1}s] rejoined", started.elapsed().as_secs_f64());

    // A third browser, with three cameras: first a loopback call on its own (debug=loopback: the
    // page answers itself), on a phone held sideways; it switches cameras during the call.
    // Chromium's fake cameras include a 16-bit depth camera whose frames the preview shows but
    // the encoder never sends, like the infrared cameras of laptops.
    let c = rig
        .browser(
            "c",
            (915, 412),
            &["--use-fake-device-for-media-stream=device-count=3"],
        )
        .await;
    c.goto(&format!("{url}loop?debug=loopback&hd=true")).await;
    c.wait_call_with_video().await;
    // hd=true is the original's legacy {mandatory: {minWidth, minHeight}}; the client turns it
    // into standard constraints.
    let size = c
        .js(
            "const s = document.getElementById('local-video').srcObject.getVideoTracks()[0] \
             .getSettings(); return [s.width, s.height];",
        )
        .await;
    assert!(
        size[0].as_u64() >= Some(1280) && size[1].as_u64() >= Some(720),
        "{size}"
    );
    c.screenshot("loopback").await;
    c.wait_for(
        "the switch camera button",
        "return !document.getElementById('switch').hidden",
        |v| *v == true,
    )
    .await;
    // Twice, so that both a camera after the one in use and one before it in the list are met.
    for round in 1..=2 {
        switch_camera_and_see_the_call_go_on(&c, round).await;
    }
    c.screenshot("switched").await;
    c.click("hangup").await;
    c.wait_state(&["idle"]).await;
    c.resize(412, 915).await;
    eprintln!("[{:>5.1}s] loopback call", started.elapsed().as_secs_f64());

    // Then the landing page: a random room name that follows the rule; joining the full room
    // through the form gets the "Room full" page.
    c.goto(&rig.url("/")).await;
    let suggested = c
        .js("return document.getElementById('room-id').value")
        .await;
    let suggested = suggested.as_str().unwrap_or("");
    assert!(
        suggested.len() >= 5
            && suggested
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
        "{suggested:?}"
    );
    c.screenshot("landing").await;
    c.js(&format!(
        "document.getElementById('room-id').value = '{room}'; \
         document.getElementById('room-id').dispatchEvent(new Event('input')); \
         document.getElementById('join').click(); return true;"
    ))
    .await;
    let page = c
        .wait_for(
            "the room full page",
            "return [document.title, document.body.innerText]",
            |v| v[0].as_str().is_some_and(|t| t.contains("Room full")),
        )
        .await;
    assert!(
        page[1].as_str().unwrap_or("").contains("Room full"),
        "{page}"
    );
    c.screenshot("room-full").await;
    // The two in the call are not disturbed.
    for p in [&a, &b] {
        assert_eq!(p.state().await, "connected");
    }

    // B closes the page (pagehide: beacon /leave, bye, DELETE): A is told.
    b.goto("about:blank").await;
    a.wait_state(&["peer-left"]).await;
    eprintln!("[{:>5.1}s] page closed", started.elapsed().as_secs_f64());

    // B left no ghost behind: C can now join and gets A's new offer.
    c.goto(&url).await;
    wait_all_connected(&[&a, &c]).await;
    wait_all_video_playing(&[&a, &c]).await;
    assert_eq!(c.js("return window.__apprtc.isInitiator").await, false);
    c.screenshot("joined-after-close").await;
    eprintln!(
        "[{:>5.1}s] newcomer connected",
        started.elapsed().as_secs_f64()
    );

    // Without `navigator.mediaDevices` (what an http:// page on a LAN address gets) the page
    // says why instead of joining.
    c.click("hangup").await;
    c.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "Object.defineProperty(Navigator.prototype, 'mediaDevices', \
                            { get: () => undefined });" }),
    )
    .await;
    c.goto(&format!("{url}nomedia")).await;
    let error = c
        .wait_for(
            "the HTTPS error",
            "return [document.body.dataset.state, document.getElementById('status').textContent]",
            |v| v[0] == "error",
        )
        .await;
    assert!(
        error[1]
            .as_str()
            .unwrap_or("")
            .contains("Camera and microphone need HTTPS (or localhost)"),
        "{error}"
    );
    c.screenshot("needs-https").await;

    eprintln!(
        "browser test took {:.1}s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        rig.artifacts.display()
    );
    rig.finish([a, b, c]).await;
}

/// Presses "Switch camera" and waits for the switch to end (the button is enabled again). What the
/// user sees, whatever the cameras are: the preview shows another live camera, or the previous
/// one with a status line saying that no other camera works; either way the other side's video
/// of us keeps moving.
async fn switch_camera_and_see_the_call_go_on(c: &Browser, round: u32) {
    let camera = "const t = document.getElementById('local-video').srcObject.getVideoTracks()[0]; \
                  return [t.getSettings().deviceId, t.readyState, \
                          document.getElementById('switch').disabled, \
                          document.getElementById('status').textContent];";
    let before = c.js(camera).await;
    let started = Instant::now();
    c.click("switch").await;
    let after = c
        .wait_for("the end of the camera switch", camera, |v| {
            v[1] == "live" && v[2] == false
        })
        .await;
    let changed = after[0] != before[0];
    let told = after[3]
        .as_str()
        .is_some_and(|s| s.contains("No other camera"));
    let steps = c
        .js("return window.__apprtc.log.filter(l => / camera |frames sent/.test(l)).slice(-8)")
        .await;
    eprintln!(
        "switch {round}: {} in {:.1}s; {steps}",
        if changed {
            "another camera"
        } else {
            "back to the same camera"
        },
        started.elapsed().as_secs_f64()
    );
    assert!(
        changed || told,
        "switch {round}: same camera and nothing said: {before} -> {after}\n{}",
        c.diagnostics().await
    );
    c.wait_remote_video_playing().await;
}

/// The stats panel opens and closes with the `i` key (as in the original web client) and with its
/// button; in a loopback call it shows a host candidate pair over UDP, the round-trip time, the
/// bitrate both ways, the video sizes and codecs; on a phone it stays above the picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_panel_opens_with_i_and_the_button_and_shows_the_call() {
    let Some(rig) = BrowserRig::start("stats", &[]).await else {
        return;
    };
    let s = rig.browser("stats", (1280, 800), &[]).await;
    s.goto(&rig.url(&format!("/r/stats{}?debug=loopback", std::process::id())))
        .await;
    s.wait_call_with_video().await;
    let open = "return !document.getElementById('stats').hidden";
    assert_eq!(s.js(open).await, false);

    s.press_key("i").await;
    assert_eq!(s.js(open).await, true, "the i key opens the panel");
    let sample = wait_for_stats(&s, |v| {
        v["pair"]["local"] == "host" && v["rttMs"].is_number() && v["outKbps"].as_f64() > Some(0.0)
    })
    .await;
    eprintln!("stats: {sample}");
    assert_eq!(sample["pair"]["protocol"], "udp", "{sample}");
    assert!(
        sample["pair"]["remote"] == "host" || sample["pair"]["remote"] == "prflx",
        "{sample}"
    );
    assert!(sample["inKbps"].as_f64() > Some(0.0), "{sample}");
    assert!(sample["videoIn"]["width"].as_u64() > Some(0), "{sample}");
    assert!(sample["videoOut"]["width"].as_u64() > Some(0), "{sample}");
    assert!(sample["codecs"]["videoOut"].is_string(), "{sample}");
    assert!(sample["codecs"]["audioOut"].is_string(), "{sample}");
    // What the user reads.
    let text = s
        .wait_for(
            "the panel's text",
            "return ['pair', 'rtt', 'bitrate', 'video-in', 'video-out', 'codecs', 'loss'] \
             .map(k => document.getElementById('stats-' + k).textContent)",
            |v| v[2].as_str().is_some_and(|t| t.contains("bit/s")),
        )
        .await;
    eprintln!("panel: {text}");
    assert!(
        text[0]
            .as_str()
            .is_some_and(|t| t.starts_with("host \u{2192}") && t.ends_with("UDP")),
        "{text}"
    );
    assert!(
        text[1].as_str().is_some_and(|t| t.ends_with(" ms")),
        "{text}"
    );
    assert!(
        text[3].as_str().is_some_and(|t| t.contains('\u{d7}')),
        "{text}"
    );
    assert!(text[5].as_str().is_some_and(|t| !t.is_empty()), "{text}");
    s.screenshot("panel").await;

    s.press_key("i").await;
    assert_eq!(s.js(open).await, false, "the i key closes the panel");
    s.click("stats-toggle").await;
    assert_eq!(s.js(open).await, true, "the button opens the panel");
    wait_for_stats(&s, |v| v["pair"].is_object()).await;

    // Phone-sized, in portrait: the panel stays in the band above the picture.
    s.resize(412, 915).await;
    let layout = s
        .wait_for(
            "the panel above the picture",
            "const v = document.getElementById('remote-video'); \
             const r = v.getBoundingClientRect(); const p = document.getElementById('stats') \
             .getBoundingClientRect(); const h = r.width * v.videoHeight / v.videoWidth; \
             return [p.bottom, r.top + (r.height - h) / 2, p.right, window.innerWidth]",
            |v| v[0].as_f64().is_some() && v[0].as_f64() <= v[1].as_f64(),
        )
        .await;
    assert!(layout[2].as_f64() <= layout[3].as_f64(), "{layout}");
    s.screenshot("panel-phone").await;
    s.click("stats-toggle").await;
    assert_eq!(s.js(open).await, false, "the button closes the panel");
    rig.finish([s]).await;
}

/// Waits until the stats panel's last sample satisfies `done`.
async fn wait_for_stats(b: &Browser, done: impl Fn(&Value) -> bool) -> Value {
    b.wait_for("a stats sample", "return window.__apprtc.stats", |v| {
        v.is_object() && done(v)
    })
    .await
}

/// The camera and microphone pickers in a loopback call, with Chromium's three fake cameras (one
/// of them a depth camera whose frames are never encoded): each camera picked either is used
/// (frames encoded, the picture goes on) or is refused with the previous one back and a status
/// line; at least one other camera works. A microphone picked replaces the one the call sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_pickers_switch_camera_and_microphone_in_a_call() {
    let Some(rig) = BrowserRig::start("devices", &[]).await else {
        return;
    };
    let d = rig
        .browser(
            "devices",
            (800, 600),
            &["--use-fake-device-for-media-stream=device-count=3"],
        )
        .await;
    d.goto(&rig.url(&format!("/r/devices{}?debug=loopback", std::process::id())))
        .await;
    d.wait_call_with_video().await;
    d.wait_for(
        "the devices button",
        "return !document.getElementById('devices-toggle').hidden",
        |v| *v == true,
    )
    .await;
    d.click("devices-toggle").await;
    let pickers = "const o = id => Array.from(document.getElementById(id).options) \
                   .map(x => [x.value, x.textContent]); \
                   return [o('camera-select'), o('mic-select')]";
    let lists = d
        .wait_for("the device lists", pickers, |v| {
            v[0].as_array().is_some_and(|a| a.len() >= 3)
        })
        .await;
    eprintln!("devices: {lists}");
    let labelled = |list: &Value| {
        list.as_array().is_some_and(|a| {
            a.iter()
                .all(|o| o[1].as_str().is_some_and(|l| !l.is_empty()))
        })
    };
    assert!(labelled(&lists[0]) && labelled(&lists[1]), "{lists}");
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o[0].as_str().map(str::to_owned))
            .collect()
    };

    let camera = "const t = document.getElementById('local-video').srcObject.getVideoTracks()[0]; \
                  const s = document.getElementById('camera-select'); \
                  return [t.getSettings().deviceId, t.readyState, s.disabled, s.value, \
                          document.getElementById('status').textContent];";
    let cameras = ids(&lists[0]);
    let mut worked = 0;
    for id in &cameras {
        let before = d.js(camera).await;
        if before[0] == id.as_str() {
            continue;
        }
        d.select("camera-select", id).await;
        let after = d
            .wait_for("the end of the camera change", camera, |v| {
                v[1] == "live" && v[2] == false
            })
            .await;
        if after[0] == id.as_str() {
            worked += 1;
            assert_eq!(after[3], id.as_str(), "the picker shows the camera in use");
            assert_eq!(
                after[4], "Connected.",
                "an earlier refusal is no longer shown"
            );
        } else {
            assert_eq!(after[0], before[0], "{before} -> {after}");
            assert_eq!(
                after[3], before[0],
                "the picker shows the camera back in use"
            );
            assert!(
                after[4]
                    .as_str()
                    .is_some_and(|s| s.contains("That camera gives no picture")),
                "{after}"
            );
        }
        eprintln!(
            "camera {}: {}",
            &id[..8.min(id.len())],
            if after[0] == id.as_str() {
                "used"
            } else {
                "refused"
            }
        );
        d.wait_remote_video_playing().await;
    }
    assert!(
        worked >= 1,
        "no other camera was used\n{}",
        d.diagnostics().await
    );

    let mics = ids(&lists[1]);
    let mic = "const t = document.getElementById('local-video').srcObject.getAudioTracks()[0]; \
               return [t.getSettings().deviceId, t.id, window.__apprtc.sentTrackIds()]";
    let before = d.js(mic).await;
    if let Some(other) = mics.iter().find(|m| before[0] != m.as_str()) {
        d.select("mic-select", other).await;
        let after = d
            .wait_for("the new microphone in the call", mic, |v| {
                v[0] == other.as_str() && v[2].as_array().is_some_and(|ids| ids.contains(&v[1]))
            })
            .await;
        assert_ne!(after[1], before[1], "{after}");
        assert!(
            !after[2].as_array().unwrap().contains(&before[1]),
            "the old microphone is no longer sent: {after}"
        );
    } else {
        eprintln!("one fake microphone only: the microphone picker was not exercised");
    }
    assert_eq!(d.state().await, "connected");
    d.wait_remote_video_playing().await;
    d.screenshot("pickers").await;
    rig.finish([d]).await;
}

/// An ICE restart (the path a failed or long-disconnected connection takes) renegotiates through
/// the normal signaling path: the initiator sends a second offer with new ICE credentials, the
/// joiner answers it, and the call goes on; the same in a loopback call, whose answering side
/// keeps its connection for a re-offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_restart_renegotiates_and_the_call_goes_on() {
    let Some(rig) = BrowserRig::start("restart", &[]).await else {
        return;
    };
    let url = rig.url(&format!("/r/restart{}", std::process::id()));
    let (a, b) = rig.two_browsers("restart", (640, 480)).await;
    call(&a, &b, &url).await;
    wait_all_video_playing(&[&a, &b]).await;
    let offers = b.logged("received offer").await;
    let answers = a.logged("received answer").await;
    assert_eq!((&offers, &answers), (&json!(1), &json!(1)));
    let ufrag = "return window.__apprtc.localUfrag()";
    let ufrags = (a.js(ufrag).await, b.js(ufrag).await);

    a.restart_ice().await;
    b.wait_logged("the restart offer", "received offer", 2)
        .await;
    a.wait_logged("the restart answer", "received answer", 2)
        .await;
    a.wait_logged("the end of the restart", "ICE restart worked", 1)
        .await;
    wait_all_connected(&[&a, &b]).await;
    wait_all_video_playing(&[&a, &b]).await;
    // New ICE credentials on both sides: a restart, not a plain renegotiation.
    assert_ne!(a.js(ufrag).await, ufrags.0);
    assert_ne!(b.js(ufrag).await, ufrags.1);
    assert_eq!(
        a.logged("sent offer (ICE restart)").await,
        1,
        "{}",
        a.diagnostics().await
    );

    // The two sides notice a lost path on their own clocks, so a restart offer can reach a
    // joiner that has already given up. That offer is a fresh attempt: on a path that works, the
    // joiner takes it and is back in the call instead of being left asking to rejoin.
    let gave_up = "ICE restart did not reconnect";
    b.js("window.__apprtc.timing.restartWaitMs = 50; return true")
        .await;
    b.restart_ice().await;
    b.wait_logged("the joiner to give up", gave_up, 1).await;
    b.wait_state(&["error"]).await;
    b.js("window.__apprtc.timing.restartWaitMs = 30000; return true")
        .await;
    a.restart_ice().await;
    b.wait_logged("the late restart offer", "received offer", 3)
        .await;
    b.wait_logged("the joiner back in the call", "ICE restart worked", 1)
        .await;
    wait_all_connected(&[&a, &b]).await;
    assert_eq!(b.logged(gave_up).await, 1, "{}", b.diagnostics().await);
    assert_eq!(
        b.logged("ICE restart offer from the other side").await,
        1,
        "{}",
        b.diagnostics().await
    );
    wait_all_video_playing(&[&a, &b]).await;

    // In a loopback call the page's own answering side takes the re-offer on its connection.
    b.click("hangup").await;
    a.wait_state(&["peer-left"]).await;
    a.click("hangup").await;
    a.wait_state(&["idle"]).await;
    a.goto(&format!("{url}loop?debug=loopback")).await;
    a.wait_call_with_video().await;
    a.restart_ice().await;
    a.wait_logged("the loopback restart answer", "received answer", 2)
        .await;
    a.wait_logged("the end of the restart", "ICE restart worked", 1)
        .await;
    a.wait_call_with_video().await;
    rig.finish([a, b]).await;
}

/// Two browsers with `?it=relay` connect through a real coturn with credentials minted by the
/// ICE endpoint: the selected candidate pair is relay/relay on both sides (spec §4, issue: ICE
/// servers without rebuilding), and the stats panel says so. When coturn then stops, the call
/// restarts ICE once and only after that asks to rejoin (docs/protocol.md §8.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_call_goes_through_coturn() {
    if !browsers_available() || !common::coturn::coturn_available() {
        return;
    }
    let coturn = common::coturn::start_coturn().await;
    let urls = coturn.urls();
    let turn = [
        "--turn-urls",
        &urls,
        "--turn-secret",
        common::coturn::SECRET,
        "--turn-ttl",
        "10m",
    ];
    let Some(rig) = BrowserRig::start("relay", &turn).await else {
        return;
    };
    let url = rig.url(&format!("/r/relay{}?it=relay", std::process::id()));
    let (a, b) = rig.two_browsers("relay", (800, 600)).await;
    call(&a, &b, &url).await;
    for p in [&a, &b] {
        p.wait_remote_video_playing().await;
        let pair = p
            .wait_for(
                "a selected candidate pair",
                "return window.__apprtc.selectedCandidateType()",
                |v| v.is_object(),
            )
            .await;
        assert_eq!(
            (pair["local"].as_str(), pair["remote"].as_str()),
            (Some("relay"), Some("relay")),
            "{}: {pair}",
            p.name
        );
        p.screenshot("connected").await;
    }
    // The stats panel says so too, with the transport to the TURN server.
    a.press_key("i").await;
    let sample = wait_for_stats(&a, |v| v["pair"]["local"] == "relay").await;
    assert!(sample["pair"]["relayProtocol"].is_string(), "{sample}");
    let shown = a
        .wait_for(
            "relay in the stats panel",
            "return document.getElementById('stats-pair').textContent",
            |v| v.as_str().is_some_and(|t| t.contains("TURN over")),
        )
        .await;
    eprintln!("relay-a: stats panel: {shown}");
    assert!(
        shown
            .as_str()
            .is_some_and(|t| t.starts_with("relay \u{2192} relay")),
        "{shown}"
    );
    a.screenshot("stats").await;

    // The TURN server goes away: the only path is gone. The initiator restarts ICE once (a new
    // offer through the room server), and only when that does not reconnect are both asked to
    // rejoin.
    let restarting = "restarting ICE with a new offer";
    assert_eq!(a.logged(restarting).await, 0);
    // The client's waits (4 s disconnected before a restart, 30 s for the restart to work) are
    // what the user lives with; the test shortens them rather than wait them out.
    for p in [&a, &b] {
        p.js("Object.assign(window.__apprtc.timing, \
              {restartAfterDisconnectedMs: 500, restartWaitMs: 3000}); return true")
            .await;
    }
    drop(coturn);
    let asked =
        "return [document.body.dataset.state, document.getElementById('status').textContent]";
    for p in [&a, &b] {
        let v = p
            .wait_for("the request to rejoin", asked, |v| v[0] == "error")
            .await;
        assert!(
            v[1].as_str()
                .is_some_and(|t| t.contains("Could not reconnect")),
            "{}: {v}",
            p.name
        );
    }
    assert_eq!(
        a.logged(restarting).await,
        1,
        "one restart before giving up\n{}",
        a.diagnostics().await
    );
    assert_eq!(
        b.logged("received offer").await,
        2,
        "the joiner got the restart offer\n{}",
        b.diagnostics().await
    );
    a.screenshot("gave-up").await;
    rig.finish([a, b]).await;
}

/// The same web client through `--backend aws-local`: the deployed Lambda handlers behind the
/// API Gateway stand-in, with frames run as parallel invocations after random delays, and an idle
/// timeout shortened to 3 s that only the keep-alive (every second) holds off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_call_through_the_aws_path() {
    let mut flags = vec![
        "--backend",
        "aws-local",
        "--apigw-jitter",
        "30ms",
        "--apigw-instances",
        "3",
        "--apigw-idle-timeout",
        "3s",
        "--keepalive-interval",
        "1s",
    ];
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some() {
        // DynamoDB Local on a machine busy with two browsers can take seconds to answer; the
        // call is what is tested here, the store's latency bounds in the fault tests.
        flags.extend([
            "--store",
            "dynamodb",
            "--dynamodb-attempt-timeout",
            "10s",
            "--dynamodb-timeout",
            "30s",
        ]);
    }
    let Some(rig) = BrowserRig::start("aws", &flags).await else {
        return;
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let url = rig.url(&format!("/r/aws{}-{stamp}", std::process::id()));
    let (a, b) = rig.two_browsers("aws", (800, 600)).await;
    call(&a, &b, &url).await;
    for p in [&a, &b] {
        p.wait_remote_video_playing().await;
        p.screenshot("connected").await;
    }
    // Keep-alive frames reach both pages for longer than the idle timeout; the pages drop them
    // (a relay error they log), no socket closes and the call goes on.
    let keepalives = "return window.__apprtc.log.filter(l => l.endsWith('relay error keepalive'))\
                      .map(l => parseFloat(l)).concat(window.__apprtc.log\
                      .filter(l => l.includes('websocket closed')).length ? [-1] : [])";
    for p in [&a, &b] {
        let seen = p
            .wait_for(
                "keep-alives over more than the idle timeout",
                keepalives,
                |v| {
                    let t: Vec<f64> = v
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_f64).collect())
                        .unwrap_or_default();
                    t.contains(&-1.0) || t.last().zip(t.first()).is_some_and(|(l, f)| l - f > 4.0)
                },
            )
            .await;
        assert!(
            !seen
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t.as_f64() == Some(-1.0))),
            "{}: a socket closed: {}",
            p.name,
            p.diagnostics().await
        );
        p.wait_remote_video_playing().await;
    }
    assert_eq!(a.state().await, "connected");
    b.click("hangup").await;
    a.wait_state(&["peer-left"]).await;
    rig.finish([a, b]).await;
}

/// Call setup time (a benchmark, not a test; `bench/run.sh` runs it): the joiner's navigation to
/// its ICE `connected`, read from the page's own clock (`performance.now()` starts at
/// navigation), while the initiator waits in the room. `APPRTC_CALL_SETUP_RUNS` calls (10 by
/// default); prints the median, minimum and maximum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/run.sh runs it"]
async fn call_setup_time() {
    let rig = BrowserRig::start("setup", &[])
        .await
        .expect("the call setup benchmark needs chromium");
    let runs: usize = std::env::var("APPRTC_CALL_SETUP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1);
    let (a, b) = rig.two_browsers("setup", (640, 480)).await;
    let mut times = Vec::new();
    for i in 0..runs {
        let url = rig.url(&format!("/r/setup{}-{i}", std::process::id()));
        call(&a, &b, &url).await;
        let at = b
            .js(
                "const l = window.__apprtc.log.find(x => / ice (connected|completed)$/.test(x)); \
                 return l ? parseFloat(l) : null;",
            )
            .await;
        let secs = at.as_f64().expect("the joiner logged its ICE connection");
        times.push(secs * 1000.0);
        b.click("hangup").await;
        wait_all_state(&[&a], &["peer-left"], &[&b]).await;
    }
    times.sort_by(f64::total_cmp);
    let median = if runs % 2 == 1 {
        times[runs / 2]
    } else {
        (times[runs / 2 - 1] + times[runs / 2]) / 2.0
    };
    println!(
        "call_setup_ms median={median:.0} min={:.0} max={:.0} runs={runs}",
        times[0],
        times[runs - 1]
    );
    rig.finish([a, b]).await;
}

/// `a` opens `url` and waits there alone; then `b` opens it and both see a connected call.
async fn call(a: &Browser, b: &Browser, url: &str) {
    a.goto(url).await;
    a.wait_state(&["waiting"]).await;
    b.goto(url).await;
    wait_all_connected(&[a, b]).await;
}

/// Waits until every browser of `peers` sees the other side's video moving.
async fn wait_all_video_playing(peers: &[&Browser]) {
    for p in peers {
        p.wait_remote_video_playing().await;
    }
}

/// Waits until every browser of `peers` is in one of `states`; at the deadline, panics with the
/// logs of `peers` and `others`.
async fn wait_all_state(peers: &[&Browser], states: &[&str], others: &[&Browser]) {
    let script = "return document.body.dataset.state || ''";
    let deadline = Instant::now() + CALL_WAIT;
    loop {
        let mut all = true;
        for p in peers {
            let v = p.js(script).await;
            all &= states.iter().any(|s| v == *s);
        }
        if all {
            return;
        }
        if Instant::now() > deadline {
            let mut report = String::new();
            for p in peers.iter().chain(others) {
                report.push_str(&format!("\n=== browser {}\n", p.name));
                report.push_str(&p.diagnostics().await);
            }
            panic!("timed out waiting for state {states:?}{report}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until every browser has a connected call; at the deadline, panics with every page's
/// log, since the side that is stuck is often not the one that was asked.
async fn wait_all_connected(peers: &[&Browser]) {
    let script = "return [document.body.dataset.state, document.body.dataset.ice]";
    let done = |v: &Value| v[0] == "connected" && (v[1] == "connected" || v[1] == "completed");
    let deadline = Instant::now() + CALL_WAIT;
    loop {
        let mut last = Vec::new();
        for p in peers {
            last.push(p.js(script).await);
        }
        if last.iter().all(done) {
            return;
        }
        if Instant::now() > deadline {
            let mut report = String::new();
            for (p, v) in peers.iter().zip(&last) {
                report.push_str(&format!("\n=== browser {}: last value {v}\n", p.name));
                report.push_str(&p.diagnostics().await);
            }
            panic!("timed out waiting for a connected call{report}");
        }
        tokio::time::sleep(POLL).await;
    }
}

// ------------------------------------------------------------------- apprtc-local over TLS

/// `apprtc-local` on 127.0.0.1:0 with a generated self-signed certificate (browsers only give
/// pages a camera on https or localhost, and the phone-facing default is https).
struct TlsServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TlsServer {
    /// With extra flags (`--backend aws-local`, TURN settings, ...), parsed like the binary's.
    async fn start(state_dir: &Path, flags: &[&str]) -> Self {
        let mut args = vec!["apprtc-local", "--listen", "127.0.0.1:0", "--no-relay-port"];
        args.extend_from_slice(flags);
        let config = Config::try_parse_from(args).expect("flags");
        let (tls, _) = apprtc_local::tls::certificates::server_config(None, None, state_dir, &[])
            .expect("certificate");
        let main = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = main.local_addr().expect("addr");
        let server = Server::from_config(&config).await.expect("server");
        let listeners = Listeners {
            main,
            collider: None,
            tls: Some(tls),
        };
        let (stop, task) = common::serve(server, listeners);
        Self { addr, stop, task }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("server shutdown timeout")
            .expect("server task")
            .expect("server");
    }
}

// ------------------------------------------------------------------- chromedriver

/// A chromedriver process on a free port; shut down (with its browsers) when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
    wd: WebDriver,
}

impl Chromedriver {
    async fn start(log: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Self {
            child,
            port,
            wd: WebDriver::new(format!("http://127.0.0.1:{port}")),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = driver.wd.call("GET", "/status", None).await
                && v["ready"] == true
            {
                break driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A fresh headless Chromium with a fake camera and microphone, its profile in `tmp` and its
    /// screenshots in `artifacts`. `extra` flags replace defaults of the same name.
    async fn browser(
        &self,
        name: &str,
        size: (u32, u32),
        tmp: &Path,
        artifacts: &Path,
        extra: &[&str],
    ) -> Browser {
        let profile = tmp.join(format!("profile-{name}"));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--ignore-certificate-errors",
            "--allow-loopback-in-peer-connection",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .iter()
        .filter(|flag| {
            let name = flag.split('=').next().unwrap_or(flag);
            !extra.iter().any(|e| e.split('=').next() == Some(name))
        })
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(format!("--window-size={},{}", size.0, size.1));
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({ "args": args });
        if let Some(bin) = CHROMIUM_CANDIDATES.iter().find(|p| Path::new(p).exists()) {
            options["binary"] = json!(bin);
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "acceptInsecureCerts": true,
                    "goog:chromeOptions": options,
                }
            }
        });
        let v = self
            .wd
            .call("POST", "/session", Some(caps))
            .await
            .unwrap_or_else(|e| panic!("cannot start browser {name}: {e}"));
        let id = v["sessionId"].as_str().expect("sessionId").to_owned();
        Browser {
            wd: self.wd.clone(),
            id,
            name: name.to_owned(),
            artifacts: artifacts.to_owned(),
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // `/shutdown` ends the sessions and their browsers too; killing chromedriver alone
        // could leave Chromium processes behind.
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------- WebDriver client

/// The few WebDriver commands the test needs, as JSON over HTTP/1.1.
#[derive(Clone)]
struct WebDriver {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl WebDriver {
    fn new(base: String) -> Self {
        Self {
            base,
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a command; returns its `value`, or the WebDriver error as text.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let exchange = async {
            let res = self.http.request(req).await.map_err(|e| e.to_string())?;
            let status = res.status();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(COMMAND_WAIT, exchange)
            .await
            .map_err(|_| format!("{method} {path}: no answer within {COMMAND_WAIT:?}"))??;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{method} {path}: {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!(
                "{method} {path}: {status} {}: {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"].as_str().unwrap_or("")
            ))
        }
    }
}

/// A script counting the lines of the page's log that end with ` <event>` (the client's log
/// lines start with the time).
fn count_logged(event: &str) -> String {
    format!(
        "return window.__apprtc.log.filter(l => l.endsWith({})).length",
        json!(format!(" {event}"))
    )
}

/// One browser (WebDriver session).
struct Browser {
    wd: WebDriver,
    id: String,
    name: String,
    /// Where its screenshots go.
    artifacts: PathBuf,
}

impl Browser {
    async fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{what}", self.id);
        match self.wd.call(method, &path, body).await {
            Ok(v) => v,
            Err(e) => panic!("browser {}: {e}\n{}", self.name, self.diagnostics().await),
        }
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// Runs a script (a function body; a returned promise is awaited) and returns its value.
    async fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// A Chrome DevTools command through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
        .await
    }

    async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Presses and releases a key on the page as a user would (WebDriver actions).
    async fn press_key(&self, key: &str) {
        self.cmd(
            "POST",
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
            ] }] }),
            ),
        )
        .await;
    }

    /// Picks the option `value` of the `<select id>` as a user would (a `change` event).
    async fn select(&self, id: &str, value: &str) {
        let ok = self
            .js(&format!(
                "const s = document.getElementById('{id}');                  if (!s || s.disabled || s.closest('[hidden]')) return false;                  s.value = {value}; s.dispatchEvent(new Event('change')); return s.value === {value};",
                value = json!(value)
            ))
            .await;
        assert_eq!(ok, true, "{}: cannot pick {value} in #{id}", self.name);
    }

    async fn click(&self, id: &str) {
        let ok = self
            .js(&format!(
                "const b = document.getElementById('{id}'); \
                 if (!b || b.hidden || b.disabled) return false; b.click(); return true;"
            ))
            .await;
        assert_eq!(ok, true, "{}: button #{id} not clickable", self.name);
    }

    async fn state(&self) -> String {
        self.js("return document.body.dataset.state || ''")
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Polls `script` until `done` accepts its value; panics with the page's log at the deadline.
    async fn wait_for(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + CALL_WAIT;
        loop {
            let v = self.js(script).await;
            if done(&v) {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "browser {}: timed out waiting for {what}; last value {v}\n{}",
                    self.name,
                    self.diagnostics().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn wait_state(&self, states: &[&str]) -> Value {
        self.wait_for(
            &format!("state {states:?}"),
            "return document.body.dataset.state || ''",
            |v| states.iter().any(|s| v == *s),
        )
        .await
    }

    /// How many lines of the page's log end with ` <event>`.
    async fn logged(&self, event: &str) -> Value {
        self.js(&count_logged(event)).await
    }

    /// Waits until `times` lines of the page's log end with ` <event>`.
    async fn wait_logged(&self, what: &str, event: &str, times: u64) {
        self.wait_for(what, &count_logged(event), |v| *v == times)
            .await;
    }

    /// Asks the page to restart ICE, which it must accept.
    async fn restart_ice(&self) {
        assert_eq!(self.js("return window.__apprtc.restartIce()").await, true);
    }

    /// The call is up and the other side's video moves.
    async fn wait_call_with_video(&self) {
        self.wait_connected().await;
        self.wait_remote_video_playing().await;
    }

    /// The call is up: our state says so and ICE agrees.
    async fn wait_connected(&self) {
        self.wait_for(
            "a connected call",
            "return [document.body.dataset.state, document.body.dataset.ice]",
            |v| v[0] == "connected" && (v[1] == "connected" || v[1] == "completed"),
        )
        .await;
    }

    /// The remote video has frames, its clock moves and new pictures keep coming. The clock alone
    /// is not enough: with an audio track in the stream it moves on while the picture is frozen.
    async fn wait_remote_video_playing(&self) {
        let script = "const v = document.getElementById('remote-video'); \
                      return {ready: v.readyState, time: v.currentTime, width: v.videoWidth, \
                              paused: v.paused, \
                              frames: v.getVideoPlaybackQuality().totalVideoFrames};";
        let first = self
            .wait_for("remote video frames", script, |v| {
                v["ready"].as_u64().unwrap_or(0) >= 2 && v["width"].as_u64().unwrap_or(0) > 0
            })
            .await;
        let t0 = first["time"].as_f64().unwrap_or(0.0);
        let frames0 = first["frames"].as_u64().unwrap_or(0);
        self.wait_for("remote video time and pictures to advance", script, |v| {
            v["paused"] == false
                && v["time"].as_f64().unwrap_or(0.0) > t0 + 0.5
                && v["frames"].as_u64().unwrap_or(0) >= frames0 + 5
        })
        .await;
    }

    /// Saves what the page shows as `<browser name>-<what>.png` in the artifacts directory.
    async fn screenshot(&self, what: &str) {
        let path = self.artifacts.join(format!("{}-{what}.png", self.name));
        let png = self.cmd("GET", "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes");
        std::fs::write(path, bytes).expect("write screenshot");
    }

    /// State, ICE state, status line and the client's own log, for failure messages.
    async fn diagnostics(&self) -> String {
        let script = "return [document.title, document.body.dataset.state, \
                      document.body.dataset.ice, \
                      (document.getElementById('status') || {}).textContent, \
                      (document.getElementById('messages') || {}).textContent, \
                      window.__apprtc ? window.__apprtc.log.slice(-80).join('\\n') : '']";
        let path = format!("/session/{}/execute/sync", self.id);
        match self
            .wd
            .call("POST", &path, Some(json!({ "script": script, "args": [] })))
            .await
        {
            Ok(v) => format!(
                "title {} | state {} | ice {} | status {} | messages {}\n--- page log ---\n{}",
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5].as_str().unwrap_or("")
            ),
            Err(e) => format!("(no diagnostics: {e})"),
        }
    }

    async fn quit(self) {
        let _ = self
            .wd
            .call("DELETE", &format!("/session/{}", self.id), None)
            .await;
    }
}
