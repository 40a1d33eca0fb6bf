//! The project's own market recordings: JSON Lines with a versioned header.
//!
//! Line 1 is a [`RecordingHeader`] (`"format": "alphatx-recording"`, `"version": 1`, the source
//! name and the instruments); every further line is one [`MarketEvent`] exactly as the engine
//! received it. The format is plain text so recordings can be inspected and cut with standard
//! tools, and it is exact: prices and quantities are decimal strings. A reader refuses a file
//! whose header is missing, of another format or of a newer version, and reports the line
//! number of any event it cannot read.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::{Instrument, MarketEvent};

/// The `format` value of every recording.
pub const RECORDING_FORMAT: &str = "alphatx-recording";
/// The newest version this binary reads and the one it writes.
pub const RECORDING_VERSION: u32 = 1;

/// First line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    pub format: String,
    pub version: u32,
    /// Where the events came from (`sim`, `binance`, ...).
    pub source: String,
    /// When recording started, epoch ms UTC.
    pub started_ms: i64,
    /// Events up to and including this time were warm-up history: the session's agents did not
    /// trade on them. A replay warms up on them too, so it trades from the same moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_from_ms: Option<i64>,
    pub instruments: Vec<Instrument>,
}

impl RecordingHeader {
    pub fn new(source: &str, started_ms: i64, instruments: Vec<Instrument>) -> Self {
        Self {
            format: RECORDING_FORMAT.to_owned(),
            version: RECORDING_VERSION,
            source: source.to_owned(),
            started_ms,
            live_from_ms: None,
            instruments,
        }
    }
}

/// Why a recording cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not an alphatx recording (the first line must be its header): {message}")]
    BadHeader { path: PathBuf, message: String },
    #[error(
        "{path}: recording version {found} is newer than this binary understands ({RECORDING_VERSION}); upgrade alphatx"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("{path}:{line}: {message}")]
    BadEvent { path: PathBuf, line: u64, message: String },
}

/// Appends market events to a recording file.
pub struct RecordingWriter<W: Write> {
    out: BufWriter<W>,
    path: PathBuf,
}

impl RecordingWriter<std::fs::File> {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path, header: &RecordingHeader) -> Result<Self, RecordingError> {
        let io = |source| RecordingError::Io { path: path.to_owned(), source };
        let file = std::fs::File::create(path).map_err(io)?;
        Self::new(file, path, header)
    }
}

impl<W: Write> RecordingWriter<W> {
    pub fn new(inner: W, path: &Path, header: &RecordingHeader) -> Result<Self, RecordingError> {
        let mut w = Self { out: BufWriter::new(inner), path: path.to_owned() };
        w.line(header)?;
        Ok(w)
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<(), RecordingError> {
        let path = &self.path;
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| RecordingError::Io { path: path.clone(), source: std::io::Error::other(e) })?;
        self.out.write_all(b"\n").map_err(|source| RecordingError::Io { path: path.clone(), source })
    }

    pub fn write(&mut self, event: &MarketEvent) -> Result<(), RecordingError> {
        self.line(event)
    }

    /// Flushes buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        let path = &self.path;
        self.out.flush().map_err(|source| RecordingError::Io { path: path.clone(), source })
    }
}

/// Reads a recording event by event.
pub struct RecordingReader<R: Read> {
    lines: std::io::Lines<BufReader<R>>,
    header: RecordingHeader,
    path: PathBuf,
    line: u64,
}

impl RecordingReader<std::fs::File> {
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let file = std::fs::File::open(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
        Self::new(file, path)
    }
}

impl<R: Read> RecordingReader<R> {
    pub fn new(inner: R, path: &Path) -> Result<Self, RecordingError> {
        let mut lines = BufReader::new(inner).lines();
        let bad = |message: String| RecordingError::BadHeader { path: path.to_owned(), message };
        let first = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(source)) => return Err(RecordingError::Io { path: path.to_owned(), source }),
            None => return Err(bad("the file is empty".into())),
        };
        let header: RecordingHeader = serde_json::from_str(&first).map_err(|e| bad(e.to_string()))?;
        if header.format != RECORDING_FORMAT {
            return Err(bad(format!("format is `{}`", header.format)));
        }
        if header.version > RECORDING_VERSION {
            return Err(RecordingError::TooNew { path: path.to_owned(), found: header.version });
        }
        Ok(Self { lines, header, path: path.to_owned(), line: 1 })
    }

    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The next event; `None` at the end. Blank lines are skipped.
    pub fn next_event(&mut self) -> Option<Result<MarketEvent, RecordingError>> {
        loop {
            let line = self.lines.next()?;
            self.line += 1;
            let line = match line {
                Ok(l) => l,
                Err(source) => return Some(Err(RecordingError::Io { path: self.path.clone(), source })),
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(serde_json::from_str(&line).map_err(|e| RecordingError::BadEvent {
                path: self.path.clone(),
                line: self.line,
                message: e.to_string(),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MarketData, Side, Symbol};
    use rust_decimal::dec;

    fn header() -> RecordingHeader {
        let btc = Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 125);
        RecordingHeader::new("sim", 1_000, vec![btc])
    }

    #[test]
    fn round_trip_is_exact() {
        let events = vec![
            MarketEvent {
                ts_ms: 5,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                data: MarketData::Trade { price: dec!(60000.1), qty: dec!(0.123), aggressor: Side::Sell, trade_id: 7 },
            },
            MarketEvent {
                ts_ms: 6,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                data: MarketData::Mark {
                    mark: dec!(60000.05),
                    funding_rate: Some(dec!(0.0001)),
                    next_funding_ms: None,
                },
            },
        ];
        let mut buf = Vec::new();
        {
            let mut w = RecordingWriter::new(&mut buf, Path::new("mem"), &header()).unwrap();
            for e in &events {
                w.write(e).unwrap();
            }
            w.flush().unwrap();
        }
        let mut r = RecordingReader::new(buf.as_slice(), Path::new("mem")).unwrap();
        assert_eq!(r.header(), &header());
        let back: Vec<MarketEvent> = std::iter::from_fn(|| r.next_event()).map(Result::unwrap).collect();
        assert_eq!(back, events);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let e = RecordingReader::new(&b""[..], Path::new("f")).err().unwrap();
        assert!(e.to_string().contains("empty"));
        let e = RecordingReader::new(&b"timestamp,open\n"[..], Path::new("f")).err().unwrap();
        assert!(e.to_string().contains("not an alphatx recording"), "{e}");
        let mut h = header();
        h.version = 99;
        let text = format!("{}\n", serde_json::to_string(&h).unwrap());
        let e = RecordingReader::new(text.as_bytes(), Path::new("f")).err().unwrap();
        assert!(e.to_string().contains("newer"), "{e}");
        let text = format!("{}\n\n{{\"ts_ms\":1}}\n", serde_json::to_string(&header()).unwrap());
        let mut r = RecordingReader::new(text.as_bytes(), Path::new("f")).unwrap();
        let e = r.next_event().unwrap().unwrap_err();
        assert!(e.to_string().starts_with("f:3:"), "{e}");
    }
}
