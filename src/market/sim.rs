//! Seeded synthetic market.
