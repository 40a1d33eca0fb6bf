//! Property: whatever the sequence of fills and funding payments (partial closes, flips,
//! duplicates, batch boundaries, and a failed commit in the middle), the `positions` table
//! equals the positions recomputed from the stored fills, and the accounts a run resumes with
//! equal the accounts the engine builds by applying the same events in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use alphatx::domain::{Account, OrderStatus, Side};
use alphatx::execution::ExecEvent;
use alphatx::store::{Fault, Ledger, LedgerBatch, verify_positions};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::dec;
use store_support::*;

#[derive(Debug, Clone)]
enum Step {
    Fill {
        agent: usize,
        symbol: usize,
        buy: bool,
        qty_milli: u32,
        price_cents: u32,
        leverage: u32,
    },
    Funding {
        agent: usize,
        symbol: usize,
        amount_micro: i32,
    },
    /// Re-send an earlier fill (a replay after reconnect): must be ignored.
    Duplicate {
        back: usize,
    },
    /// Close the batch here.
    Cut,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..2usize, 0..2usize, any::<bool>(), 1..3_000u32, 9_000..11_000u32, 1..5u32).prop_map(
            |(agent, symbol, buy, qty_milli, price_cents, leverage)| Step::Fill { agent, symbol, buy, qty_milli, price_cents, leverage }
        ),
        1 => (0..2usize, 0..2usize, -50_000..50_000i32).prop_map(|(agent, symbol, amount_micro)| Step::Funding { agent, symbol, amount_micro }),
        1 => (0..40usize).prop_map(|back| Step::Duplicate { back }),
        2 => Just(Step::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn positions_equal_the_fills(steps in proptest::collection::vec(step(), 1..120), fail_at in proptest::option::of(0..8usize), commit_fails in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let ledger = Ledger::open(&path).unwrap();
        let mut acks = ledger.acks().unwrap();
        let run = ledger.begin_run(new_run("prop")).unwrap();
        let agents = [alice(), bob()];
        let symbols = [btc(), eth()];
        let mut memory = vec![Account::new(alice(), dec!(10000)), Account::new(bob(), dec!(5000.50))];
        let mut sent: Vec<ExecEvent> = Vec::new();
        let mut batches: Vec<Vec<ExecEvent>> = vec![Vec::new()];
        let mut trade = 0u64;
        let mut ts = 1_700_000_000_000i64;
        for s in &steps {
            ts += 1_000;
            match s {
                Step::Fill { agent, symbol, buy, qty_milli, price_cents, leverage } => {
                    trade += 1;
                    let side = if *buy { Side::Buy } else { Side::Sell };
                    let qty = Decimal::new(i64::from(*qty_milli), 3);
                    let price = Decimal::new(i64::from(*price_cents), 2);
                    let f = fill(trade, trade, agents[*agent], symbols[*symbol], side, qty, price, ts);
                    let lev = Decimal::from(*leverage);
                    memory[*agent].apply_fill(&f, lev);
                    let ev = ExecEvent::Filled { fill: f, leverage: lev, status: OrderStatus::Filled };
                    sent.push(ev.clone());
                    batches.last_mut().unwrap().push(ev);
                }
                Step::Funding { agent, symbol, amount_micro } => {
                    let amount = Decimal::new(i64::from(*amount_micro), 6);
                    memory[*agent].apply_funding(symbols[*symbol], amount);
                    let ev = ExecEvent::Funding { agent: agents[*agent], symbol: symbols[*symbol], rate: dec!(0.0001), mark: dec!(100), amount, ts_ms: ts };
                    sent.push(ev.clone());
                    batches.last_mut().unwrap().push(ev);
                }
                Step::Duplicate { back } => {
                    let fills: Vec<&ExecEvent> = sent.iter().filter(|e| matches!(e, ExecEvent::Filled { .. })).collect();
                    if !fills.is_empty() {
                        let ev = fills[fills.len() - 1 - back % fills.len()].clone();
                        batches.last_mut().unwrap().push(ev);
                    }
                }
                Step::Cut => batches.push(Vec::new()),
            }
        }
        let mut outstanding = 0;
        for (i, exec) in batches.into_iter().enumerate() {
            let seq = i as u64 + 1;
            if fail_at == Some(i) {
                for ack in wait_acks(&mut acks, outstanding) {
                    prop_assert_eq!(ack.result, Ok(()));
                }
                // A commit fails in the middle of the run: the writer's cached accounts must be
                // reloaded from the committed rows, not reused with the rolled-back changes.
                let fault = if commit_fails { Fault::CommitFails } else { Fault::ReadOnly };
                ledger.inject_fault(Some(fault)).unwrap();
                ledger.append(LedgerBatch { seq, run_id: run, exec, journal: vec![] }).unwrap();
                let ack = wait_acks(&mut acks, 1).remove(0);
                prop_assert_eq!(ack.seq, seq);
                prop_assert!(ack.result.is_err());
                ledger.inject_fault(None).unwrap();
                // Its Ok ack comes once the retry commits.
                outstanding = 1;
            } else {
                ledger.append(LedgerBatch { seq, run_id: run, exec, journal: vec![] }).unwrap();
                outstanding += 1;
            }
        }
        ledger.close().unwrap();

        prop_assert_eq!(verify_positions(&path, run).unwrap(), vec![]);
        let ledger = Ledger::open(&path).unwrap();
        let st = ledger.resume_state("prop").unwrap().unwrap();
        prop_assert_eq!(&st.accounts, &memory);
        ledger.close().unwrap();
        // The accounts table the writer maintains agrees too.
        let conn = reader(&path);
        for acc in &memory {
            let (cash, fills): (String, i64) = conn
                .query_row("SELECT cash, fill_count FROM accounts WHERE run_id = ?1 AND agent = ?2", rusqlite::params![run, acc.agent.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            prop_assert_eq!(cash.parse::<Decimal>().unwrap(), acc.cash);
            prop_assert_eq!(fills as u64, acc.fill_count);
        }
    }
}
