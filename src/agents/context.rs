//! What an agent sees when it decides: the market views the engine keeps, and its own account.

use rust_decimal::Decimal;

use crate::analytics::RollingVol;
use crate::domain::{Account, Instrument, Price, Symbol, Timeframe};
use crate::market::candles::CandleSeries;

/// Minutes of 1-minute returns in the realised-volatility window.
pub const VOL_WINDOW_MIN: usize = 240;

/// The engine's state of one market (owned by the engine, lent to agents).
pub struct MarketView {
    pub instrument: Instrument,
    pub series: CandleSeries,
    pub last: Option<Price>,
    pub bid: Option<Price>,
    pub ask: Option<Price>,
    pub mark: Option<Price>,
    pub funding_rate: Option<Decimal>,
    pub next_funding_ms: Option<i64>,
    pub open_interest: Option<Decimal>,
    pub long_short_ratio: Option<Decimal>,
    /// Market time of the last accepted event for this symbol.
    pub last_event_ms: Option<i64>,
    /// Set (engine time) while the feed reports this symbol's data as stale.
    pub stale_since_ms: Option<i64>,
    /// Realised volatility of 1-minute returns over the last four hours (leverage cap).
    pub vol: RollingVol,
}

impl MarketView {
    pub fn new(instrument: Instrument, history: usize) -> Self {
        Self {
            instrument,
            series: CandleSeries::new(history),
            last: None,
            bid: None,
            ask: None,
            mark: None,
            funding_rate: None,
            next_funding_ms: None,
            open_interest: None,
            long_short_ratio: None,
            last_event_ms: None,
            stale_since_ms: None,
            vol: RollingVol::new(VOL_WINDOW_MIN),
        }
    }

    pub fn symbol(&self) -> Symbol {
        self.instrument.symbol
    }

    /// Price used to value positions: mark if known, else last trade, else quote mid.
    pub fn mark_or_last(&self) -> Option<Price> {
        self.mark.or(self.last).or_else(|| self.mid())
    }

    /// Mid of the last quote, if any.
    pub fn mid(&self) -> Option<Price> {
        Some((self.bid? + self.ask?) / Decimal::TWO)
    }
}

/// Borrowed context for one inline decision.
pub struct AgentContext<'a> {
    pub now_ms: i64,
    /// The symbol and timeframe whose candle close triggered this decision.
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    pub markets: &'a [MarketView],
    pub account: &'a Account,
    /// The symbols this agent may trade.
    pub symbols: &'a [Symbol],
}

impl AgentContext<'_> {
    pub fn market(&self, symbol: Symbol) -> Option<&MarketView> {
        self.markets.iter().find(|m| m.instrument.symbol == symbol)
    }

    /// Equity at current marks.
    pub fn equity(&self) -> Decimal {
        let marks = |s: Symbol| self.market(s).and_then(MarketView::mark_or_last);
        self.account.equity(&marks)
    }

    /// Equity not tied up as margin.
    pub fn available(&self) -> Decimal {
        let marks = |s: Symbol| self.market(s).and_then(MarketView::mark_or_last);
        self.account.available(&marks)
    }
}
