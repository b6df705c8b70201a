//! Room and relay settings are parsed and checked in one place (`room::config::SettingsBuilder`)
//! for both hosts: the same value gives a deployed function (its environment, through
//! `DeployConfig::from_lookup`) and the emulator (its flags, parsed by clap) the same settings, or
//! the same reason, each naming the setting as that host spells it.
#![cfg(feature = "aws-local")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use apprtc_local::cli::Config;
use clap::Parser;
use room::adapters::lambda::DeployConfig;
use room::config::RelayLimits;
use room::config::{Setting, SettingError, Settings};
use std::collections::HashMap;

type Given<'a> = &'a [(Setting, &'a str)];

/// A deployed function given these values as environment variables.
fn lambda(given: Given) -> Result<(Settings, RelayLimits), SettingError> {
    let vars: HashMap<&str, &str> = given
        .iter()
        .map(|(s, v)| (s.env().expect("a variable of the functions"), *v))
        .chain([("TABLE_NAME", "t")])
        .collect();
    DeployConfig::from_lookup(|k| vars.get(k).map(|v| (*v).to_owned()))
        .map(|c| (c.settings, c.relay))
}

/// The emulator given these values as flags (`--flag=value`, so `-1s` is a value).
fn emulator(given: Given) -> Result<(Settings, RelayLimits), SettingError> {
    let args = given.iter().map(|(s, v)| format!("{}={v}", s.flag()));
    let config = Config::try_parse_from(["apprtc-local".to_owned()].into_iter().chain(args))
        .unwrap_or_else(|e| panic!("clap refused {given:?}: {e}"));
    config.settings()
}

/// Values both hosts refuse, the setting each must name, and the reason both give.
const REFUSED: &[(Given<'static>, Setting, &str)] = &[
    (
        &[(Setting::MaxMessageBytes, "0")],
        Setting::MaxMessageBytes,
        "'0' is not a positive integer",
    ),
    (
        &[(Setting::MaxMessageBytes, "lots")],
        Setting::MaxMessageBytes,
        "'lots' is not a positive integer",
    ),
    (
        &[(Setting::MaxSavedMessages, "-1")],
        Setting::MaxSavedMessages,
        "'-1' is not a positive integer",
    ),
    (
        &[(Setting::MaxSavedBytes, "0")],
        Setting::MaxSavedBytes,
        "'0' is not a positive integer",
    ),
    (
        &[(Setting::MaxQueuedMessages, "0")],
        Setting::MaxQueuedMessages,
        "'0' is not a positive integer",
    ),
    (
        &[(Setting::MaxQueuedBytes, "1.5")],
        Setting::MaxQueuedBytes,
        "'1.5' is not a positive integer",
    ),
    (
        &[(Setting::RoomTtl, "ten")],
        Setting::RoomTtl,
        "'ten' is not a duration (examples: 250ms, 10s, 5m, 24h)",
    ),
    (
        &[(Setting::RegisterDeadline, "5d")],
        Setting::RegisterDeadline,
        "'5d': unknown unit 'd' (use ms, s, m or h)",
    ),
    (
        &[(Setting::ReconnectGrace, "-1s")],
        Setting::ReconnectGrace,
        "'-1s' is not a duration (examples: 250ms, 10s, 5m, 24h)",
    ),
    (
        &[(Setting::TurnSecret, "s"), (Setting::TurnTtl, "0s")],
        Setting::TurnTtl,
        "the TURN credential lifetime must be greater than zero",
    ),
    (
        &[
            (Setting::TurnSecret, "s"),
            (Setting::TurnUsername, "u"),
            (Setting::TurnCredential, "p"),
        ],
        Setting::TurnSecret,
        "use either a TURN shared secret or a static TURN username and credential, not both",
    ),
    (
        &[(Setting::TurnUsername, "u")],
        Setting::TurnCredential,
        "a static TURN username and credential go together",
    ),
    (
        &[(Setting::TurnCredential, "p")],
        Setting::TurnUsername,
        "a static TURN username and credential go together",
    ),
];

#[test]
fn a_bad_value_gets_the_same_reason_on_both_hosts_under_each_hosts_name() {
    for (given, setting, reason) in REFUSED {
        let e = lambda(given).expect_err(&format!("function accepted {given:?}"));
        assert_eq!(
            (e.name, e.reason.as_str()),
            (setting.env().unwrap(), *reason)
        );
        let e = emulator(given).expect_err(&format!("emulator accepted {given:?}"));
        assert_eq!((e.name, e.reason.as_str()), (setting.flag(), *reason));
    }
}

#[test]
fn the_error_message_names_the_setting_then_the_reason() {
    let given: Given = &[(Setting::MaxMessageBytes, "0")];
    assert_eq!(
        lambda(given).unwrap_err().to_string(),
        "invalid setting MAX_MESSAGE_BYTES: '0' is not a positive integer"
    );
    assert_eq!(
        emulator(given).unwrap_err().to_string(),
        "invalid setting --max-message-bytes: '0' is not a positive integer"
    );
}

#[test]
fn good_values_build_the_same_settings_on_both_hosts() {
    let given: Given = &[
        (Setting::RoomTtl, "2h"),
        (Setting::RegisterDeadline, "30s"),
        (Setting::ReconnectGrace, "2500ms"),
        (Setting::MaxMessageBytes, "20000"),
        (Setting::MaxSavedMessages, "10"),
        (Setting::MaxSavedBytes, " 5000 "),
        (Setting::MaxQueuedMessages, "100"),
        (Setting::MaxQueuedBytes, "50000"),
        (Setting::PublicUrl, "https://rtc.example.org"),
        (Setting::WssUrl, "wss://ws.example.org/ws"),
        (Setting::WssPostUrl, "https://rtc.example.org/relay"),
        (
            Setting::IceServerUrl,
            "https://rtc.example.org/v1alpha/iceconfig",
        ),
        (Setting::WshppAllow, "a.example.org:443, b.example.org:8089"),
        (Setting::StunUrls, "stun:stun.example.org:3478"),
        (
            Setting::TurnUrls,
            "turn:turn.example.org:3478,turns:turn.example.org:5349",
        ),
        (Setting::TurnSecret, "s1, s2"),
        (Setting::TurnTtl, "1h"),
        (
            Setting::IceCorsOrigins,
            "https://a.example.org/, https://b.example.org",
        ),
    ];
    let deployed = lambda(given).unwrap();
    assert_eq!(emulator(given).unwrap(), deployed);
    let (settings, _) = deployed;
    assert_eq!(settings.limits.max_saved_bytes, 5000);
    assert_eq!(settings.wshpp_allow.len(), 2);
    let (static_turn, _) =
        lambda(&[(Setting::TurnUsername, "u"), (Setting::TurnCredential, "p")]).unwrap();
    let (emulated, _) =
        emulator(&[(Setting::TurnUsername, "u"), (Setting::TurnCredential, "p")]).unwrap();
    assert_eq!(static_turn.ice, emulated.ice);
}

#[test]
fn each_host_keeps_its_own_defaults_for_message_and_queue_bytes() {
    let (deployed, deployed_relay) = lambda(&[]).unwrap();
    let (emulated, emulated_relay) = emulator(&[]).unwrap();
    assert_eq!(deployed.limits.max_message_bytes, 24 * 1024);
    assert_eq!(emulated.limits.max_message_bytes, 64 * 1024);
    assert_eq!(deployed_relay.max_queued_bytes, 64 * 1024);
    assert_eq!(emulated_relay.max_queued_bytes, 1024 * 1024);
    assert_eq!(deployed.limits.room_ttl, emulated.limits.room_ttl);
    assert_eq!(
        deployed_relay.max_queued_messages,
        emulated_relay.max_queued_messages
    );
}

#[test]
fn the_api_gateway_frame_bound_holds_only_behind_api_gateway() {
    let given: Given = &[(Setting::MaxMessageBytes, "65536")];
    let e = lambda(given).unwrap_err();
    assert_eq!(e.name, "MAX_MESSAGE_BYTES");
    assert!(
        e.reason.starts_with("65536 is over 32745: API Gateway"),
        "{e}"
    );
    assert_eq!(emulator(given).unwrap().0.limits.max_message_bytes, 65536);
}

#[test]
fn an_outbound_queue_must_hold_a_flushed_sender_queue_on_the_emulator() {
    let e = emulator(&[(Setting::OutboundQueue, "1024")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid setting --outbound-queue: must be larger than --max-queued-messages (a queue is flushed into it)"
    );
    let e = emulator(&[
        (Setting::MaxQueuedBytes, "4096"),
        (Setting::OutboundBytes, "4095"),
    ])
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid setting --outbound-bytes: must be at least --max-queued-bytes (a queue is flushed into it)"
    );
    // The functions keep no outbound queue (API Gateway holds the sockets): a long sender queue
    // is theirs to allow.
    assert_eq!(Setting::OutboundQueue.env(), None);
    let (_, relay) = lambda(&[(Setting::MaxQueuedMessages, "5000")]).unwrap();
    assert_eq!(relay.max_queued_messages, 5000);
}
