//! The pages and the web client's files are answered by one router (`room::http::pages::serve_page`):
//! the emulator's own routes, the deployed `web` function behind the API Gateway stand-in, and
//! the `web` function called in process give each request the same status, content type and
//! caching headers, revalidation included.
#![cfg(feature = "aws-local")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use lambda_http::Body;
use room::adapters::lambda::{DeployConfig, Deployment, Route, handle};
use room::adapters::memory::MemoryRoomStore;
use room::testing::FakeConnections;
use std::sync::Arc;

/// What a page answer is compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    cache_control: Option<String>,
    etag: Option<String>,
    nosniff: Option<String>,
    allow: Option<String>,
    /// Only for answers that do not depend on the host name (files, the "room full" page,
    /// errors); `None` for HEAD, whose body the transport drops.
    body: Option<String>,
}

impl Answer {
    fn of(status: u16, headers: &http::HeaderMap, body: &[u8], keep_body: bool) -> Self {
        let h = |name: http::header::HeaderName| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
        };
        Self {
            status,
            content_type: h(http::header::CONTENT_TYPE),
            cache_control: h(http::header::CACHE_CONTROL),
            etag: h(http::header::ETAG),
            nosniff: h(http::header::X_CONTENT_TYPE_OPTIONS),
            allow: h(http::header::ALLOW),
            body: keep_body.then(|| String::from_utf8_lossy(body).into_owned()),
        }
    }
}

/// One request: method, path, `If-None-Match`, and whether its body is the same on every host.
struct Case {
    method: &'static str,
    path: &'static str,
    if_none_match: Option<String>,
    same_body: bool,
}

fn case(method: &'static str, path: &'static str, same_body: bool) -> Case {
    Case {
        method,
        path,
        if_none_match: None,
        same_body,
    }
}

fn revalidate(path: &'static str, tag: &str) -> Case {
    Case {
        method: "GET",
        path,
        if_none_match: Some(tag.to_owned()),
        same_body: true,
    }
}

fn deployment() -> Deployment {
    let config =
        DeployConfig::from_lookup(|k| (k == "TABLE_NAME").then(|| "unused".into())).unwrap();
    Deployment::new(
        config,
        Arc::new(MemoryRoomStore::new()),
        Arc::new(FakeConnections::default()),
    )
}

async fn in_process(dep: &Deployment, c: &Case) -> Answer {
    let mut req = http::Request::builder()
        .method(c.method)
        .uri(c.path)
        .header("host", "h.example");
    if let Some(tag) = &c.if_none_match {
        req = req.header("if-none-match", tag);
    }
    let res = handle(dep, Route::Page, req.body(Body::Empty).unwrap()).await;
    let keep = c.same_body && c.method != "HEAD";
    Answer::of(
        res.status().as_u16(),
        res.headers(),
        res.body().as_ref(),
        keep,
    )
}

async fn over_http(s: &TestServer, c: &Case) -> Answer {
    let headers: Vec<(&str, &str)> = c
        .if_none_match
        .iter()
        .map(|t| ("if-none-match", t.as_str()))
        .collect();
    let r = s.request(c.method, c.path, "", &headers).await;
    let keep = c.same_body && c.method != "HEAD";
    Answer::of(r.status, &r.headers, r.body.as_bytes(), keep)
}

/// Two joins on every host, so that `/r/fullroom` is the "room full" page everywhere.
async fn fill(dep: &Deployment, servers: &[&TestServer]) {
    for _ in 0..2 {
        let req = http::Request::builder()
            .method("POST")
            .uri("/join/fullroom")
            .header("host", "h.example")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(handle(dep, Route::Join, req).await.status(), 200);
        for s in servers {
            assert_eq!(s.join("fullroom").await["result"], "SUCCESS");
        }
    }
}

#[tokio::test]
async fn every_host_answers_pages_and_files_alike() {
    let dep = deployment();
    let local = TestServer::start_with(&["--backend", "local"]).await;
    let aws = TestServer::start_with(&["--backend", "aws-local"]).await;
    fill(&dep, &[&local, &aws]).await;

    let js_tag = in_process(&dep, &case("GET", "/static/app.js", true))
        .await
        .etag
        .expect("app.js has an ETag");
    let css_tag = in_process(&dep, &case("GET", "/static/app.css", true))
        .await
        .etag
        .expect("app.css has an ETag");
    assert_ne!(js_tag, css_tag);

    let cases = vec![
        case("GET", "/", false),
        case("HEAD", "/", false),
        case("GET", "/?video=false", false),
        case("GET", "/r/someroom", false),
        case("HEAD", "/r/someroom", false),
        case("GET", "/r/fullroom", true),
        case("GET", "/r/bad%20room!", true),
        case("GET", "/r/ab%2Dc", false),
        case("GET", "/params", false),
        case("GET", "/static/app.js", true),
        case("HEAD", "/static/app.js", true),
        case("GET", "/static/app.css", true),
        case("GET", "/static/nope.js", true),
        case("GET", "/static/..%2Fapp.js", true),
        revalidate("/static/app.js", &js_tag),
        revalidate("/static/app.js", &format!("W/{js_tag}")),
        revalidate("/static/app.js", &format!("\"other\", {js_tag}")),
        revalidate("/static/app.js", "*"),
        revalidate("/static/app.js", &css_tag),
        revalidate("/static/app.css", &css_tag),
        case("POST", "/", true),
        case("POST", "/r/someroom", true),
        case("DELETE", "/params", true),
        case("PUT", "/static/app.js", true),
    ];
    for c in &cases {
        let want = in_process(&dep, c).await;
        let what = format!(
            "{} {} (If-None-Match {:?})",
            c.method, c.path, c.if_none_match
        );
        assert_eq!(over_http(&local, c).await, want, "{what}: local backend");
        assert_eq!(over_http(&aws, c).await, want, "{what}: aws-local backend");
    }

    // What the router decides, on all of them.
    let get = |path: &'static str| case("GET", path, true);
    let page = in_process(&dep, &get("/r/someroom")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.cache_control.as_deref(), Some("no-store"));
    let js = in_process(&dep, &get("/static/app.js")).await;
    assert_eq!(
        (
            js.status,
            js.cache_control.as_deref(),
            js.nosniff.as_deref()
        ),
        (200, Some("no-cache"), Some("nosniff"))
    );
    let fresh = in_process(&dep, &revalidate("/static/app.js", &js_tag)).await;
    assert_eq!((fresh.status, fresh.body.as_deref()), (304, Some("")));
    assert_eq!(fresh.etag.as_deref(), Some(js_tag.as_str()));
    let stale = in_process(&dep, &revalidate("/static/app.js", &css_tag)).await;
    assert_eq!(stale.status, 200);
    assert_eq!(in_process(&dep, &get("/static/nope.js")).await.status, 404);
    assert_eq!(in_process(&dep, &get("/r/bad%20room!")).await.status, 404);
    let post = in_process(&dep, &case("POST", "/", true)).await;
    assert_eq!((post.status, post.allow.as_deref()), (405, Some("GET")));
    assert!(
        in_process(&dep, &get("/r/fullroom"))
            .await
            .body
            .unwrap()
            .contains("Room full")
    );
}

#[tokio::test]
async fn the_web_function_strips_the_cargo_lambda_watch_prefix() {
    let dep = deployment();
    for (path, status) in [
        ("/lambda-url/web", 200),
        ("/lambda-url/web/", 200),
        ("/lambda-url/web/static/app.css", 200),
        ("/lambda-url/web/r/someroom", 200),
        ("/lambda-url/web/nope", 404),
    ] {
        let got = in_process(&dep, &case("GET", path, false)).await;
        assert_eq!(got.status, status, "{path}");
    }
}

#[tokio::test]
async fn probes_answer_alike_on_every_backend() {
    let local = TestServer::start_with(&["--backend", "local"]).await;
    let aws = TestServer::start_with(&["--backend", "aws-local"]).await;
    for path in ["/healthz", "/readyz"] {
        let a = local.get(path).await;
        let b = aws.get(path).await;
        let answer = |r: &Reply| {
            (
                r.status,
                r.header("content-type").map(str::to_owned),
                r.header("cache-control").map(str::to_owned),
                r.body.clone(),
            )
        };
        assert_eq!(answer(&a), answer(&b), "{path}");
        assert_eq!(a.status, 200, "{path}");
    }
}
