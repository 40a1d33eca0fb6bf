//! Every record type goes in through the writer and comes back out of the ledger unchanged;
//! fills are stored once; acks come in order and only after commit; a run resumes exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use alphatx::agents::adaptive::SizeAdjustment;
use alphatx::domain::{Account, AgentId, ClosedTrade, OrderId, OrderKind, OrderPurpose, OrderStatus, Side};
use alphatx::engine::journal::{JournalRecord, TransferRecord};
use alphatx::execution::ExecEvent;
use alphatx::risk::TradingState;
use alphatx::store::{Ledger, LedgerAck, LedgerBatch, verify_positions};
use rust_decimal::Decimal;
use rust_decimal::dec;
use store_support::*;
use tokio::sync::mpsc::UnboundedReceiver;

const T0: i64 = 1_700_000_000_000;

fn batch(seq: u64, run_id: i64, exec: Vec<ExecEvent>, journal: Vec<JournalRecord>) -> LedgerBatch {
    LedgerBatch { seq, run_id, exec, journal }
}

/// A scripted session: orders through their whole lifecycle, fills, funding and every journal
/// record. Returns the venue events in order (to replay them in memory).
fn session(ledger: &Ledger, acks: &mut UnboundedReceiver<LedgerAck>, run: i64) -> Vec<ExecEvent> {
    let mut events = Vec::new();
    // 1: a market buy that fills in two parts.
    let buy = request(1, alice(), btc(), Side::Buy, dec!(0.30), OrderKind::Market);
    let b1 = vec![
        accepted(buy.clone(), T0),
        filled(fill(1, 1, alice(), btc(), Side::Buy, dec!(0.10), dec!(100.5), T0), OrderStatus::PartiallyFilled),
        filled(fill(2, 1, alice(), btc(), Side::Buy, dec!(0.20), dec!(101.25), T0 + 1), OrderStatus::Filled),
    ];
    // 2: a resting stop that triggers and fills (closing part), a take-profit left open, a
    //    limit that is cancelled, an order the venue rejects, and funding.
    let mut stop = request(2, alice(), btc(), Side::Sell, dec!(0.1), OrderKind::StopMarket { trigger: dec!(99) });
    stop.purpose = OrderPurpose::StopLoss;
    stop.reduce_only = true;
    let mut tp = request(3, alice(), btc(), Side::Sell, dec!(0.2), OrderKind::TakeProfitMarket { trigger: dec!(120) });
    tp.purpose = OrderPurpose::TakeProfit;
    tp.reduce_only = true;
    let limit = request(4, bob(), eth(), Side::Buy, dec!(1.5), OrderKind::Limit { price: dec!(2000.10) });
    let bad = request(5, bob(), btc(), Side::Buy, dec!(1000), OrderKind::Market);
    let short = request(6, bob(), eth(), Side::Sell, dec!(2), OrderKind::Market);
    let b2 = vec![
        accepted(stop.clone(), T0 + 10),
        accepted(tp.clone(), T0 + 10),
        accepted(limit.clone(), T0 + 11),
        ExecEvent::Rejected { order: order(bad, T0 + 12), reason: "insufficient margin".into() },
        ExecEvent::Triggered { order_id: OrderId(2), agent: alice(), symbol: btc(), price: dec!(98.9), ts_ms: T0 + 20 },
        filled(fill(3, 2, alice(), btc(), Side::Sell, dec!(0.1), dec!(98.8), T0 + 20), OrderStatus::Filled),
        ExecEvent::Cancelled {
            order_id: OrderId(4),
            agent: bob(),
            symbol: eth(),
            reason: "operator cancel".into(),
            ts_ms: T0 + 30,
        },
        accepted(short.clone(), T0 + 31),
        filled(fill(4, 6, bob(), eth(), Side::Sell, dec!(2), dec!(1999.99), T0 + 31), OrderStatus::Filled),
        ExecEvent::Funding {
            agent: bob(),
            symbol: eth(),
            rate: dec!(0.0001),
            mark: dec!(2001),
            amount: dec!(0.40020000),
            ts_ms: T0 + 40,
        },
        ExecEvent::Funding {
            agent: alice(),
            symbol: btc(),
            rate: dec!(0.0001),
            mark: dec!(101),
            amount: dec!(-0.00202),
            ts_ms: T0 + 40,
        },
    ];
    let j1 = vec![
        JournalRecord::Decision(decision(1, alice(), T0 - 5)),
        JournalRecord::Equity(equity(alice(), T0, dec!(10000))),
        JournalRecord::Equity(equity(bob(), T0, dec!(5000.50))),
        plan_record(alice(), btc(), Some(plan(btc(), dec!(99), T0 + 1)), T0 + 1),
    ];
    let j2 = vec![
        JournalRecord::Decision(adjusted_decision()),
        JournalRecord::Refusal(refusal(bob(), T0 + 11, 9)),
        JournalRecord::StateChange(state(Some(bob()), T0 + 12, false, TradingState::Reducing)),
        JournalRecord::StateChange(state(Some(bob()), T0 + 13, true, TradingState::Halted)),
        JournalRecord::StateChange(state(None, T0 + 14, false, TradingState::Halted)),
        command(T0 + 15, "pause bob"),
        plan_record(bob(), eth(), Some(plan(eth(), dec!(2100), T0 + 31)), T0 + 31),
        plan_record(alice(), eth(), Some(plan(eth(), dec!(1900), T0 + 32)), T0 + 32),
        plan_record(alice(), eth(), None, T0 + 33),
        JournalRecord::Transfer(transfer()),
        JournalRecord::Equity(equity(alice(), T0 + 60_000, dec!(10001.25))),
        JournalRecord::Equity(equity(bob(), T0 + 60_000, dec!(5002))),
    ];
    events.extend(b1.iter().cloned());
    events.extend(b2.iter().cloned());
    ledger.append(batch(1, run, b1, j1)).unwrap();
    ledger.append(batch(2, run, b2, j2)).unwrap();
    let got = wait_acks(acks, 2);
    assert_eq!(got.iter().map(|a| (a.seq, a.result.clone())).collect::<Vec<_>>(), vec![(1, Ok(())), (2, Ok(()))]);
    events
}

/// Bob's decision 2, sized down by adaptive sizing.
fn adjusted_decision() -> alphatx::engine::journal::DecisionRecord {
    let mut d = decision(2, bob(), T0 + 11);
    d.adjustment = Some(SizeAdjustment {
        scale: 0.625,
        performance: 0.78125,
        volatility: 0.8,
        trades: 12,
        t_stat: Some(-0.875),
        atr_pct: Some(1.5),
        usual_atr_pct: Some(1.2),
    });
    d
}

/// Capital re-weighting moved 250.25 of alice's free cash to bob.
fn transfer() -> TransferRecord {
    TransferRecord {
        ts_ms: T0 + 35,
        from: alice(),
        to: bob(),
        amount: dec!(250.25),
        from_cash: dec!(9749.75),
        to_cash: dec!(5250.75),
        reason: "re-weighting: sharpe rank".into(),
        reversal: false,
    }
}

/// The engine's view: the same venue events (and the transfer, which comes after all of them)
/// applied to fresh accounts in memory.
fn replay(events: &[ExecEvent]) -> Vec<Account> {
    let mut accounts = vec![Account::new(alice(), dec!(10000)), Account::new(bob(), dec!(5000.50))];
    for ev in events {
        let a = accounts.iter_mut().find(|a| a.agent == ev.agent()).unwrap();
        match ev {
            ExecEvent::Filled { fill, leverage, .. } => {
                a.apply_fill(fill, *leverage);
            }
            ExecEvent::Funding { symbol, amount, .. } => a.apply_funding(*symbol, *amount),
            _ => {}
        }
    }
    let t = transfer();
    accounts[0].cash -= t.amount;
    accounts[1].cash += t.amount;
    accounts
}

/// The engine's trade statistics input: round trips closed by the fills, and fees, per agent.
fn trade_history(events: &[ExecEvent]) -> Vec<(AgentId, Vec<ClosedTrade>, Decimal)> {
    let mut accounts = [Account::new(alice(), dec!(10000)), Account::new(bob(), dec!(5000.50))];
    let mut out = vec![(alice(), Vec::new(), Decimal::ZERO), (bob(), Vec::new(), Decimal::ZERO)];
    for ev in events {
        let i = accounts.iter().position(|a| a.agent == ev.agent()).unwrap();
        match ev {
            ExecEvent::Filled { fill, leverage, .. } => {
                out[i].2 += fill.fee;
                if let Some(t) = accounts[i].apply_fill(fill, *leverage).closed {
                    out[i].1.push(t);
                }
            }
            ExecEvent::Funding { symbol, amount, .. } => accounts[i].apply_funding(*symbol, *amount),
            _ => {}
        }
    }
    out
}

#[test]
fn a_session_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    assert!(ledger.resume_state("default").unwrap().is_none());
    let run = ledger.begin_run(new_run("default")).unwrap();
    let mut acks = ledger.acks().unwrap();
    let mut events = session(&ledger, &mut acks, run);
    // 3: bob buys back his short: a closed round trip (its funding included).
    let cover = request(7, bob(), eth(), Side::Buy, dec!(2), OrderKind::Market);
    let b3 = vec![
        accepted(cover, T0 + 50),
        filled(fill(5, 7, bob(), eth(), Side::Buy, dec!(2), dec!(1990.5), T0 + 50), OrderStatus::Filled),
    ];
    events.extend(b3.iter().cloned());
    ledger.append(batch(3, run, b3, Vec::new())).unwrap();
    assert_eq!(wait_acks(&mut acks, 1)[0].result, Ok(()));
    ledger.close().unwrap();

    let ledger = Ledger::open(&path).unwrap();
    let st = ledger.resume_state("default").unwrap().unwrap();
    assert_eq!(st.run_id, run);
    assert_eq!(st.profile, "default");
    assert_eq!(
        (st.started_ms, st.sim_start_ms, st.seed),
        (1_700_000_000_000, Some(1_699_000_000_000), Some(u64::MAX - 7))
    );
    assert_eq!(st.last_ts_ms, T0 + 60_000);

    // Accounts: exactly the engine's, field by field (positions, funding, fees, counts).
    let expected = replay(&events);
    assert_eq!(st.accounts, expected);
    assert_eq!(st.accounts[0].positions.len(), 1);
    assert_eq!(st.accounts[0].qty(btc()), dec!(0.20));
    assert_eq!(st.accounts[1].qty(eth()), Decimal::ZERO);
    assert_eq!(st.accounts[1].funding, dec!(0.40020000));

    // Trade history: every closed round trip and the fees, as the engine booked them, so the
    // leaderboard's trades, win rate and fee share continue after a restart.
    let history: Vec<_> = st.history.iter().map(|h| (h.agent, h.closed.clone(), h.fees)).collect();
    assert_eq!(history, trade_history(&events));
    assert_eq!(st.history[0].closed.len(), 0, "alice only reduced her long");
    assert_eq!(st.history[1].closed.len(), 1);
    let cover = &st.history[1].closed[0];
    assert_eq!((cover.side, cover.entry_price, cover.exit_price), (Side::Sell, dec!(1999.99), dec!(1990.5)));
    assert_eq!(cover.funding, dec!(0.40020000));
    assert!(verify_positions(&path, run).unwrap().is_empty());

    // Open orders: only the take-profit is still resting, exactly as accepted.
    assert_eq!(st.open_orders.len(), 1, "{:?}", st.open_orders);
    let tp = &st.open_orders[0];
    assert_eq!(tp.request.id, OrderId(3));
    assert_eq!(tp.request.kind, OrderKind::TakeProfitMarket { trigger: dec!(120) });
    assert!(tp.request.reduce_only);
    assert_eq!(tp.request.purpose, OrderPurpose::TakeProfit);
    assert_eq!((tp.status, tp.filled_qty, tp.created_ms), (OrderStatus::Open, Decimal::ZERO, T0 + 10));

    // Plans: alice's ETH plan was retired; the others are the latest.
    let plans: Vec<_> = st.plans.iter().map(|(a, p)| (*a, p.symbol, p.stop_loss)).collect();
    assert_eq!(plans, vec![(alice(), btc(), Some(dec!(99))), (bob(), eth(), Some(dec!(2100)))]);
    assert_eq!(st.plans[0].1, plan(btc(), dec!(99), T0 + 1));

    // States: the latest per agent and for the arena, complete.
    assert_eq!(st.agent_states, vec![state(Some(bob()), T0 + 13, true, TradingState::Halted)]);
    assert_eq!(st.arena_state, Some(state(None, T0 + 14, false, TradingState::Halted)));

    // Equity and decisions.
    assert_eq!(
        st.equity,
        vec![
            (alice(), vec![(T0, 10000.0), (T0 + 60_000, 10001.25)]),
            (bob(), vec![(T0, 5000.5), (T0 + 60_000, 5002.0)])
        ]
    );
    assert_eq!(st.recent_decisions, vec![decision(1, alice(), T0 - 5), adjusted_decision()]);

    // The transfer is stored once, and the accounts rows carry it.
    let conn = reader(&path);
    assert_eq!(count(&conn, "SELECT count(*) FROM transfers WHERE amount = '250.25' AND reversal = 0"), 1);
    let cash = |agent: &str| -> String {
        conn.query_row(
            "SELECT cash FROM accounts WHERE run_id = ?1 AND agent = ?2",
            rusqlite::params![run, agent],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(cash("alice").parse::<Decimal>().unwrap(), expected[0].cash);
    assert_eq!(cash("bob").parse::<Decimal>().unwrap(), expected[1].cash);

    // Ids continue after everything used: the refused order 9, decision 2, trade 5.
    assert_eq!((st.next_order_id, st.next_decision_id, st.next_trade_id), (10, 3, 6));
    assert_eq!(ledger.next_trade_id("paper").unwrap(), 6);
    assert_eq!(ledger.next_trade_id("binance").unwrap(), 1);
    ledger.close().unwrap();
}

#[test]
fn order_lifecycle_and_history_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    session(&ledger, &mut ledger.acks().unwrap(), run);
    ledger.close().unwrap();
    let conn = reader(&path);
    let status = |id: i64| -> (String, String, Option<String>) {
        conn.query_row(
            "SELECT status, filled_qty, reason FROM orders WHERE run_id = ?1 AND order_id = ?2",
            [run, id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    assert_eq!(status(1), ("filled".into(), "0.30".into(), None));
    assert_eq!(status(2), ("filled".into(), "0.1".into(), None));
    assert_eq!(status(3), ("open".into(), "0".into(), None));
    assert_eq!(status(4), ("cancelled".into(), "0".into(), Some("operator cancel".into())));
    assert_eq!(status(5), ("rejected".into(), "0".into(), Some("insufficient margin".into())));
    let mut stmt =
        conn.prepare("SELECT event FROM order_history WHERE run_id = ?1 AND order_id = 2 ORDER BY seq").unwrap();
    let history: Vec<String> = stmt.query_map([run], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(history, ["accepted", "triggered", "filled"]);
    let mut stmt = conn
        .prepare("SELECT event, status, qty FROM order_history WHERE run_id = ?1 AND order_id = 1 ORDER BY seq")
        .unwrap();
    let history: Vec<(String, String, Option<String>)> =
        stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        history,
        [
            ("accepted".into(), "open".into(), None),
            ("filled".into(), "partially_filled".into(), Some("0.10".into())),
            ("filled".into(), "filled".into(), Some("0.20".into()))
        ]
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM risk_events WHERE kind = 'refusal' AND code = 'insufficient_margin'"),
        1
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM commands WHERE command = 'pause bob'"), 1);
    assert_eq!(count(&conn, "SELECT count(*) FROM funding"), 2);
    let realized: String =
        conn.query_row("SELECT realized_pnl FROM fills WHERE trade_id = 3", [], |r| r.get(0)).unwrap();
    // Sold 0.1 at 98.8 from an average of (0.1×100.5 + 0.2×101.25)/0.3 = 101: −0.22.
    assert_eq!(realized.parse::<Decimal>().unwrap(), dec!(-0.22));
}

#[test]
fn a_fill_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    let f = fill(7, 1, alice(), btc(), Side::Buy, dec!(1), dec!(100), T0);
    let ev = filled(f.clone(), OrderStatus::Filled);
    // Twice in one batch, again in a later batch, and again after a restart.
    ledger.append(batch(1, run, vec![ev.clone(), ev.clone()], vec![])).unwrap();
    ledger.append(batch(2, run, vec![ev.clone()], vec![])).unwrap();
    wait_acks(&mut acks, 2);
    assert_eq!(ledger.stats().duplicate_fills, 2);
    ledger.close().unwrap();
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    ledger.append(batch(3, run, vec![ev], vec![])).unwrap();
    // A different fill reusing the trade id is kept aside, never applied.
    let other = fill(7, 2, alice(), btc(), Side::Sell, dec!(5), dec!(90), T0 + 1);
    ledger.append(batch(4, run, vec![filled(other, OrderStatus::Filled)], vec![])).unwrap();
    let got = wait_acks(&mut acks, 2);
    assert!(got.iter().all(|a| a.result.is_ok()));
    let stats = ledger.stats();
    assert_eq!((stats.duplicate_fills, stats.fill_conflicts), (1, 1));
    let st = ledger.resume_state("default").unwrap().unwrap();
    assert_eq!(st.accounts[0].qty(btc()), dec!(1));
    assert_eq!(st.accounts[0].fill_count, 1);
    ledger.close().unwrap();
    let conn = reader(&path);
    assert_eq!(count(&conn, "SELECT count(*) FROM fills"), 1);
    assert_eq!(count(&conn, "SELECT count(*) FROM fill_conflicts WHERE trade_id = 7"), 1);
    assert!(verify_positions(&path, run).unwrap().is_empty());
}

#[test]
fn acks_come_in_order_and_only_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    assert!(ledger.acks().is_none(), "the receiver is handed out once");
    let run = ledger.begin_run(new_run("default")).unwrap();
    let conn = reader(&path);
    let n = 300u64;
    let mut next_ack = 1u64;
    for seq in 1..=n {
        // Batches of different sizes so the writer groups them in various ways.
        let fills = (0..(seq % 7 + 1))
            .map(|k| {
                let trade = seq * 100 + k;
                filled(
                    fill(trade, seq, alice(), btc(), Side::Buy, dec!(0.001), dec!(100), T0 + seq as i64),
                    OrderStatus::Filled,
                )
            })
            .collect();
        ledger
            .append(batch(seq, run, fills, vec![JournalRecord::Equity(equity(bob(), T0 + seq as i64, dec!(1)))]))
            .unwrap();
        // Check acks as they come: the batch must already be visible to another connection.
        while let Ok(ack) = acks.try_recv() {
            assert_eq!(ack.seq, next_ack, "acks out of order");
            assert_eq!(ack.result, Ok(()));
            let stored =
                count(&conn, &format!("SELECT count(*) FROM fills WHERE trade_id BETWEEN {0}00 AND {0}99", ack.seq));
            assert_eq!(stored as u64, ack.seq % 7 + 1, "batch {} acked before it was readable", ack.seq);
            next_ack += 1;
        }
    }
    for ack in wait_acks(&mut acks, (n + 1 - next_ack) as usize) {
        assert_eq!(ack.seq, next_ack, "acks out of order");
        let stored =
            count(&conn, &format!("SELECT count(*) FROM fills WHERE trade_id BETWEEN {0}00 AND {0}99", ack.seq));
        assert_eq!(stored as u64, ack.seq % 7 + 1);
        next_ack += 1;
    }
    let stats = ledger.stats();
    assert_eq!(stats.batches_committed, n);
    assert_eq!(stats.pending_batches, 0);
    assert!(stats.commits >= 1 && stats.commits <= n);
    assert!(stats.last_commit_us > 0);
    ledger.close().unwrap();
}

#[test]
fn profiles_runs_and_retirement() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let a = ledger.begin_run(new_run("default")).unwrap();
    let b = ledger.begin_run(new_run("other")).unwrap();
    let c = ledger.begin_run(new_run("default")).unwrap();
    assert_eq!(ledger.resume_state("default").unwrap().unwrap().run_id, c, "the newest run of the profile");
    assert_eq!(ledger.resume_state("other").unwrap().unwrap().run_id, b);
    assert!(ledger.resume_state("nobody").unwrap().is_none());
    ledger.retire_run(c, T0).unwrap();
    assert_eq!(ledger.resume_state("default").unwrap().unwrap().run_id, a, "a retired run is not resumed");
    assert!(ledger.retire_run(999, T0).is_err());
    // A fresh run starts from its starting balances, whatever older runs hold.
    let st = ledger.resume_state("other").unwrap().unwrap();
    assert_eq!(st.accounts, vec![Account::new(alice(), dec!(10000)), Account::new(bob(), dec!(5000.50))]);
    assert_eq!((st.next_order_id, st.next_decision_id, st.last_ts_ms), (1, 1, 1_700_000_000_000));
    let mut dup = new_run("default");
    dup.agents.push(dup.agents[0].clone());
    assert!(ledger.begin_run(dup).unwrap_err().to_string().contains("listed twice"));
    let runs = alphatx::store::list_runs(&path).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c, b, a]);
    ledger.close().unwrap();
}

#[test]
fn unknown_runs_are_refused_and_unknown_agents_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    let carol = agent("carol");
    ledger.append(batch(1, run + 100, vec![], vec![command(T0, "x")])).unwrap();
    ledger
        .append(batch(
            2,
            run,
            vec![filled(fill(1, 1, carol, btc(), Side::Buy, dec!(1), dec!(10), T0), OrderStatus::Filled)],
            vec![],
        ))
        .unwrap();
    let got = wait_acks(&mut acks, 2);
    assert_eq!(got[0].seq, 1);
    assert!(got[0].result.as_ref().unwrap_err().contains("not in the ledger"), "{got:?}");
    assert_eq!(got[1], alphatx::store::LedgerAck { seq: 2, result: Ok(()) });
    assert_eq!(ledger.stats().dropped_batches, 1);
    let st = ledger.resume_state("default").unwrap().unwrap();
    let carol_acc = st.accounts.iter().find(|a| a.agent == carol).unwrap();
    assert_eq!(carol_acc.qty(btc()), dec!(1));
    ledger.close().unwrap();
}
