//! The RFC 6455 decoder (`local/src/websocket/decoder.rs`) against `tungstenite`: seeded random client
//! streams (text and binary, fragmented, pings, pongs and closes between fragments, every length
//! encoding, random masks) with one fault or none, fed to both in random read sizes; both must
//! deliver the same messages and end the same way (`apprtc_local::fuzzing::compare`, which lists
//! the accepted differences). A valid stream must also give exactly the messages it was made of,
//! a faulty one the close code of its fault.
//!
//! `APPRTC_CODEC_CASES` sets the number of streams (default 1000), `APPRTC_CODEC_SEED` the seed
//! (default: from the clock); a failure prints both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use apprtc_local::fuzzing::{End, compare};
use apprtc_local::websocket::decoder::{FrameLimits, Message, close_code};

/// xorshift64*: enough randomness for stream shapes, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    /// `lo..=hi` random bytes.
    fn bytes(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let n = self.range(lo, hi);
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() - 1)]
    }
}

/// How a frame writes its payload length.
#[derive(Clone, Copy)]
enum LenForm {
    Minimal,
    /// The 16-bit form whatever the length (accepted by both, though RFC 6455 asks senders for
    /// the shortest form).
    Wide16,
    /// The 64-bit form whatever the length.
    Wide64,
    /// The 64-bit form with its top bit set.
    TopBit,
}

struct Frame {
    b0: u8,
    masked: bool,
    mask: [u8; 4],
    payload: Vec<u8>,
    len_form: LenForm,
}

impl Frame {
    fn new(rng: &mut Rng, b0: u8, payload: Vec<u8>) -> Self {
        let len_form = match rng.range(0, 19) {
            0 if payload.len() <= 0xFFFF => LenForm::Wide16,
            1 => LenForm::Wide64,
            _ => LenForm::Minimal,
        };
        let mask = if rng.pct(5) {
            [0; 4]
        } else {
            rng.next().to_be_bytes()[..4].try_into().unwrap()
        };
        Self {
            b0,
            masked: true,
            mask,
            payload,
            len_form,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.b0);
        let m = if self.masked { 0x80 } else { 0 };
        let n = self.payload.len();
        match self.len_form {
            LenForm::Minimal if n < 126 => out.push(m | n as u8),
            LenForm::Minimal | LenForm::Wide16 if n <= 0xFFFF => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            LenForm::TopBit => {
                out.push(m | 127);
                out.extend_from_slice(&((n as u64) | 1 << 63).to_be_bytes());
            }
            _ => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
            out.extend(
                self.payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ self.mask[i % 4]),
            );
        } else {
            out.extend_from_slice(&self.payload);
        }
    }
}

const FIN: u8 = 0x80;
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Limits the streams are made for: one size for both, a frame limit under the message limit (as
/// API Gateway has), and a frame limit over it (the message limit applies to frames too).
const LIMITS: [FrameLimits; 3] = [
    FrameLimits {
        max_message: 1 << 17,
        max_frame: 1 << 17,
        read_chunk: 4096,
    },
    FrameLimits {
        max_message: 1000,
        max_frame: 300,
        read_chunk: 4096,
    },
    FrameLimits {
        max_message: 300,
        max_frame: 1000,
        read_chunk: 4096,
    },
];

/// Characters of 1 to 4 bytes, so fragments cut text inside characters.
const CHARS: [char; 6] = ['a', 'Z', ' ', 'é', '€', '😀'];

fn text(rng: &mut Rng, max_bytes: usize) -> String {
    let mut s = String::new();
    let target = rng.range(0, max_bytes);
    loop {
        let c = rng.pick(&CHARS);
        if s.len() + c.len_utf8() > target {
            return s;
        }
        s.push(c);
    }
}

/// A message length: mostly the 7-bit form, often the 16-bit one, sometimes the 64-bit one.
fn length(rng: &mut Rng, cap: usize) -> usize {
    let n = match rng.range(0, 99) {
        0..=59 => rng.range(0, 125),
        60..=89 => rng.range(126, 700),
        90..=96 => rng.range(126, 0xFFFF),
        _ => rng.range(0x10000, 70_000),
    };
    n.min(cap)
}

/// Cuts `data` into 1 to 4 pieces at random places.
fn cut(rng: &mut Rng, data: &[u8], max_piece: usize) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut rest = data;
    let wanted = rng.range(1, 4);
    while pieces.len() + 1 < wanted && !rest.is_empty() {
        let n = rng.range(0, rest.len().min(max_piece));
        pieces.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    while rest.len() > max_piece {
        pieces.push(rest[..max_piece].to_vec());
        rest = &rest[max_piece..];
    }
    pieces.push(rest.to_vec());
    pieces
}

/// Maybe a ping or pong (the messages they deliver go to `want`).
fn control(rng: &mut Rng, frames: &mut Vec<Frame>, want: &mut Vec<Message>) {
    if rng.pct(25) {
        let payload = rng.bytes(0, 125);
        if rng.pct(50) {
            want.push(Message::Ping(payload.clone()));
            frames.push(Frame::new(rng, FIN | PING, payload));
        } else {
            want.push(Message::Pong);
            frames.push(Frame::new(rng, FIN | PONG, payload));
        }
    }
}

/// A valid data message, fragmented or not, with control frames between its fragments.
fn message(rng: &mut Rng, limits: FrameLimits, frames: &mut Vec<Frame>, want: &mut Vec<Message>) {
    let frame_cap = limits.max_frame.min(limits.max_message);
    let is_text = rng.pct(60);
    let n = length(rng, limits.max_message);
    let (data, done) = if is_text {
        let t = text(rng, n);
        (t.clone().into_bytes(), Message::Text(t))
    } else {
        (rng.bytes(n, n), Message::Binary(n))
    };
    let pieces = cut(rng, &data, frame_cap);
    let last = pieces.len() - 1;
    let mut controls = Vec::new();
    for (i, piece) in pieces.into_iter().enumerate() {
        let op = if i > 0 {
            CONT
        } else if is_text {
            TEXT
        } else {
            BINARY
        };
        let fin = if i == last { FIN } else { 0 };
        frames.push(Frame::new(rng, fin | op, piece));
        if i < last {
            control(rng, frames, &mut controls);
        }
    }
    want.extend(controls);
    want.push(done);
}

/// A close frame a client may send.
fn valid_close(rng: &mut Rng, frames: &mut Vec<Frame>, want: &mut Vec<Message>) {
    if rng.pct(20) {
        want.push(Message::Close(None));
        frames.push(Frame::new(rng, FIN | CLOSE, Vec::new()));
        return;
    }
    let code: u16 = rng.pick(&[
        1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1013, 3000, 4999,
    ]);
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(text(rng, 100).as_bytes());
    want.push(Message::Close(Some(code)));
    frames.push(Frame::new(rng, FIN | CLOSE, payload));
}

/// The faults a stream may have, each with the close code it must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Unmasked,
    ReservedBits,
    UnknownOpcode,
    LongControl,
    FragmentedControl,
    ContinuationWithoutStart,
    NewMessageInFragmented,
    BadUtf8Whole,
    BadUtf8AcrossFragments,
    BadUtf8EarlyFragment,
    CloseOneByte,
    CloseBadCode,
    CloseBadReason,
    FrameTooBig,
    MessageTooBig,
    LengthTopBit,
}

const FAULTS: [Fault; 16] = [
    Fault::Unmasked,
    Fault::ReservedBits,
    Fault::UnknownOpcode,
    Fault::LongControl,
    Fault::FragmentedControl,
    Fault::ContinuationWithoutStart,
    Fault::NewMessageInFragmented,
    Fault::BadUtf8Whole,
    Fault::BadUtf8AcrossFragments,
    Fault::BadUtf8EarlyFragment,
    Fault::CloseOneByte,
    Fault::CloseBadCode,
    Fault::CloseBadReason,
    Fault::FrameTooBig,
    Fault::MessageTooBig,
    Fault::LengthTopBit,
];

impl Fault {
    fn code(self) -> u16 {
        match self {
            Self::BadUtf8Whole
            | Self::BadUtf8AcrossFragments
            | Self::BadUtf8EarlyFragment
            | Self::CloseBadReason => close_code::INVALID_DATA,
            Self::FrameTooBig | Self::MessageTooBig => close_code::TOO_BIG,
            _ => close_code::PROTOCOL,
        }
    }
}

/// Bytes that are never UTF-8, whatever follows: a stray continuation byte, 0xFF, an overlong
/// form, a surrogate, a code point over U+10FFFF.
const NOT_UTF8: [&[u8]; 5] = [
    &[0x80],
    &[0xFF],
    &[0xC0, 0x80],
    &[0xED, 0xA0, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
];

/// The frames of one fault (in valid surroundings).
fn faulty(rng: &mut Rng, fault: Fault, limits: FrameLimits, frames: &mut Vec<Frame>) {
    let frame_cap = limits.max_frame.min(limits.max_message);
    let small = |rng: &mut Rng| rng.bytes(0, 60);
    let mut scratch = Vec::new();
    match fault {
        Fault::Unmasked => {
            let op = rng.pick(&[FIN | TEXT, FIN | BINARY, FIN | PING, TEXT]);
            let mut f = Frame::new(rng, op, b"hi".to_vec());
            f.masked = false;
            frames.push(f);
        }
        Fault::ReservedBits => {
            let rsv = rng.pick(&[0x40, 0x20, 0x10, 0x70]);
            let op = rng.pick(&[FIN | TEXT, FIN | BINARY, FIN | PING, BINARY]);
            frames.push(Frame::new(rng, rsv | op, b"x".to_vec()));
        }
        Fault::UnknownOpcode => {
            let op = rng.pick(&[3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]);
            let payload = small(rng);
            frames.push(Frame::new(rng, FIN | op, payload));
        }
        Fault::LongControl => {
            let op = rng.pick(&[PING, PONG, CLOSE]);
            let mut payload = 1000u16.to_be_bytes().to_vec();
            payload.resize(rng.range(126, 200), b'x');
            frames.push(Frame::new(rng, FIN | op, payload));
        }
        Fault::FragmentedControl => {
            let op = rng.pick(&[PING, PONG, CLOSE]);
            frames.push(Frame::new(rng, op, Vec::new()));
        }
        Fault::ContinuationWithoutStart => {
            let fin = rng.pick(&[0, FIN]);
            let payload = small(rng);
            frames.push(Frame::new(rng, fin | CONT, payload));
        }
        Fault::NewMessageInFragmented => {
            frames.push(Frame::new(rng, TEXT, b"ab".to_vec()));
            control(rng, frames, &mut scratch);
            let op = rng.pick(&[TEXT, BINARY, FIN | TEXT, FIN | BINARY]);
            frames.push(Frame::new(rng, op, b"c".to_vec()));
        }
        Fault::BadUtf8Whole => {
            let mut payload = text(rng, 50).into_bytes();
            let at = rng.range(0, payload.len());
            payload.splice(at..at, rng.pick(&NOT_UTF8).iter().copied());
            frames.push(Frame::new(rng, FIN | TEXT, payload));
        }
        Fault::BadUtf8AcrossFragments => {
            // A character begun in one fragment and not continued in the next.
            let mut first = text(rng, 40).into_bytes();
            first.extend_from_slice(rng.pick(&[&[0xC3][..], &[0xE2, 0x82], &[0xF0, 0x9F, 0x98]]));
            frames.push(Frame::new(rng, TEXT, first));
            control(rng, frames, &mut scratch);
            let next = rng.pick(&[&b"a"[..], b"", b"\xC3\xA9"]).to_vec();
            let fin = if next.is_empty() {
                FIN
            } else {
                rng.pick(&[0, FIN])
            };
            frames.push(Frame::new(rng, fin | CONT, next));
            control(rng, frames, &mut scratch);
            frames.push(Frame::new(rng, FIN | CONT, b"z".to_vec()));
        }
        Fault::BadUtf8EarlyFragment => {
            // Never UTF-8 already in a fragment that is not the last: failed before the rest.
            let mut first = text(rng, 40).into_bytes();
            first.extend_from_slice(rng.pick(&NOT_UTF8));
            let lead = rng.pct(50);
            if lead {
                frames.push(Frame::new(rng, TEXT, b"ok".to_vec()));
                control(rng, frames, &mut scratch);
            }
            let op = if lead { CONT } else { TEXT };
            frames.push(Frame::new(rng, op, first));
            control(rng, frames, &mut scratch);
            frames.push(Frame::new(rng, FIN | CONT, b"z".to_vec()));
        }
        Fault::CloseOneByte => {
            let b = rng.bytes(1, 1);
            frames.push(Frame::new(rng, FIN | CLOSE, b));
        }
        Fault::CloseBadCode => {
            let code: u16 = rng.pick(&[
                0, 1, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2000, 2999, 5000, 65535,
            ]);
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(text(rng, 20).as_bytes());
            frames.push(Frame::new(rng, FIN | CLOSE, payload));
        }
        Fault::CloseBadReason => {
            let mut payload = 1000u16.to_be_bytes().to_vec();
            payload.extend_from_slice(text(rng, 20).as_bytes());
            payload.extend_from_slice(rng.pick(&NOT_UTF8));
            frames.push(Frame::new(rng, FIN | CLOSE, payload));
        }
        Fault::FrameTooBig => {
            let op = rng.pick(&[FIN | TEXT, FIN | BINARY, BINARY]);
            let payload = vec![b'x'; frame_cap + rng.range(1, 300)];
            frames.push(Frame::new(rng, op, payload));
        }
        Fault::MessageTooBig => {
            // Frames each within the frame limit, together over the message limit.
            let mut total = 0;
            let mut op = BINARY;
            while total <= limits.max_message {
                let n = frame_cap.min(rng.range(1, frame_cap));
                total += n;
                frames.push(Frame::new(rng, op, vec![b'y'; n]));
                op = CONT;
                control(rng, frames, &mut scratch);
            }
            let last = frames.iter_mut().rev().find(|f| f.b0 & 0x08 == 0).unwrap();
            last.b0 |= FIN;
        }
        Fault::LengthTopBit => {
            let op = rng.pick(&[FIN | TEXT, FIN | BINARY]);
            let mut f = Frame::new(rng, op, b"x".to_vec());
            f.len_form = LenForm::TopBit;
            frames.push(f);
        }
    }
}

struct Case {
    limits: FrameLimits,
    bytes: Vec<u8>,
    /// The messages a valid stream is made of.
    want: Vec<Message>,
    fault: Option<Fault>,
}

fn case(rng: &mut Rng) -> Case {
    let limits = rng.pick(&LIMITS);
    let mut frames = Vec::new();
    let mut want = Vec::new();
    for _ in 0..rng.range(0, 4) {
        control(rng, &mut frames, &mut want);
        message(rng, limits, &mut frames, &mut want);
    }
    let fault = rng.pct(60).then(|| rng.pick(&FAULTS));
    match fault {
        Some(f) => {
            faulty(rng, f, limits, &mut frames);
            // Valid frames after the fault, which neither may deliver.
            message(rng, limits, &mut frames, &mut Vec::new());
        }
        None if rng.pct(50) => valid_close(rng, &mut frames, &mut want),
        None => {}
    }
    let mut bytes = Vec::new();
    for f in &frames {
        f.write(&mut bytes);
    }
    Case {
        limits,
        bytes,
        want,
        fault,
    }
}

/// Read sizes: byte by byte, small reads, or large ones.
fn chunks(rng: &mut Rng) -> Vec<usize> {
    let max = rng.pick(&[1, 7, 64, 5000, 100_000]);
    (0..rng.range(1, 6)).map(|_| rng.range(1, max)).collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn decoder_agrees_with_tungstenite_on_random_streams() {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let seed: u64 = env_or("APPRTC_CODEC_SEED", clock | 1);
    let cases: usize = env_or("APPRTC_CODEC_CASES", 1000);
    let mut rng = Rng(seed);
    let mut faults = std::collections::BTreeMap::<Option<Fault>, usize>::new();
    let mut bytes = 0;
    for i in 0..cases {
        let c = case(&mut rng);
        let reads = chunks(&mut rng);
        let report = |what: &str| {
            format!(
                "case {i} of {cases}, APPRTC_CODEC_SEED={seed}: {what}\nfault: {:?}, limits: {:?}, \
                 reads: {reads:?}, stream ({} bytes): {:02x?}",
                c.fault,
                c.limits,
                c.bytes.len(),
                &c.bytes[..c.bytes.len().min(400)]
            )
        };
        let got =
            compare(&c.bytes, c.limits, &reads).unwrap_or_else(|diff| panic!("{}", report(&diff)));
        let wrong = match c.fault {
            None if got.messages != c.want => Some(format!("messages {got:?}, want {:?}", c.want)),
            None if got.end != End::Closed && got.end != End::Eof => {
                Some(format!("a valid stream ended {:?}", got.end))
            }
            Some(f) if !matches!(got.end, End::Failed(code, _) if code == f.code()) => {
                Some(format!("ended {:?}, want close code {}", got.end, f.code()))
            }
            _ => None,
        };
        if let Some(what) = wrong {
            panic!("{}", report(&what));
        }
        *faults.entry(c.fault).or_default() += 1;
        bytes += c.bytes.len();
    }
    println!(
        "{cases} streams ({bytes} bytes), seed {seed}, agreed; by fault: {:?}",
        faults
    );
}

#[test]
fn fuzz_entry_accepts_what_the_generator_makes() {
    // The fuzz target's own checks on a few generated streams (its corpus seeds come from here).
    let mut rng = Rng(0x5EED);
    for _ in 0..50 {
        let c = case(&mut rng);
        let mut data = vec![0x07];
        data.extend_from_slice(&c.bytes);
        apprtc_local::fuzzing::websocket_frames(&data);
    }
}
