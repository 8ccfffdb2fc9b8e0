//! Property tests of the reservation (issue 8): extreme token counts, prices and
//! choice counts never panic, and the amount grows with the prompt's upper bound and
//! with the number of choices (DESIGN §4: the reservation bounds the cost).

use crate::catalog::{Model, Pricing};
use crate::money::PerMillion;
use crate::pricing::chat_reservation;
use crate::tokens::PromptBounds;
use proptest::prelude::*;
use std::collections::HashMap;

/// Token counts: small, large, and the very edges.
fn tokens() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..10_000u64,
        any::<u64>(),
        prop::sample::select(
            &[
                0,
                1,
                u32::MAX as u64,
                i64::MAX as u64,
                u64::MAX - 1,
                u64::MAX
            ][..]
        ),
    ]
}

/// Prices in nano-USD per million tokens: config refuses negative ones.
fn price() -> impl Strategy<Value = PerMillion> {
    prop_oneof![
        0..100_000_000_000i64,
        0..=i64::MAX,
        prop::sample::select(&[0, 1, i64::MAX][..]),
    ]
    .prop_map(PerMillion)
}

fn model() -> impl Strategy<Value = Model> {
    (tokens(), tokens(), price(), price()).prop_map(|(window, max_output, input, output)| {
        test_model(window, max_output, input, output)
    })
}

fn test_model(
    context_window: u64,
    max_output_tokens: u64,
    input: PerMillion,
    output: PerMillion,
) -> Model {
    Model {
        id: "test/model".into(),
        name: "Test".into(),
        operations: Vec::new(),
        context_window,
        max_output_tokens,
        pricing: Pricing {
            input,
            output,
            cached_input: input,
            per_image: PerMillion(0),
        },
        reasoning_efforts: Vec::new(),
        max_reference_images: 0,
        aliases: Vec::new(),
        hints: HashMap::new(),
        docs_path: None,
        routes: Vec::new(),
        retired_by_status: false,
        retired_on: None,
        deprecated_on: None,
        replacement: None,
    }
}

fn bounds(lower: u64, upper: u64) -> PromptBounds {
    PromptBounds {
        lower: lower.min(upper),
        upper: lower.max(upper),
        exact: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reservation_never_panics_and_is_never_negative(
        m in model(),
        (lower, upper) in (tokens(), tokens()),
        client_limit in proptest::option::of(tokens()),
        choices in tokens(),
    ) {
        let prompt = bounds(lower, upper);
        let r = chat_reservation(&m, prompt, client_limit, choices);
        prop_assert!(r.amount.0 >= 0, "{:?}", r);
        match client_limit {
            Some(limit) => prop_assert_eq!(r.output_limit, limit),
            None => {
                prop_assert!(r.output_limit <= m.max_output_tokens);
                prop_assert!(r.output_limit <= m.context_window.saturating_sub(prompt.lower));
            }
        }
    }

    #[test]
    fn reservation_grows_with_the_prompt_upper_bound(
        m in model(),
        (lower, a, b) in (tokens(), tokens(), tokens()),
        client_limit in proptest::option::of(tokens()),
        choices in tokens(),
    ) {
        let lower = lower.min(a).min(b);
        let (small, big) = (a.min(b), a.max(b));
        let less = chat_reservation(&m, bounds(lower, small), client_limit, choices);
        let more = chat_reservation(&m, bounds(lower, big), client_limit, choices);
        prop_assert!(less.amount <= more.amount, "{:?} > {:?}", less, more);
        prop_assert_eq!(less.output_limit, more.output_limit);
    }

    #[test]
    fn reservation_grows_with_the_choices(
        m in model(),
        (lower, upper) in (tokens(), tokens()),
        client_limit in proptest::option::of(tokens()),
        (a, b) in (tokens(), tokens()),
    ) {
        let prompt = bounds(lower, upper);
        let less = chat_reservation(&m, prompt, client_limit, a.min(b));
        let more = chat_reservation(&m, prompt, client_limit, a.max(b));
        prop_assert!(less.amount <= more.amount, "{:?} > {:?}", less, more);
    }
}

/// The edges named in issue 8, spelled out.
#[test]
fn extreme_reservations_saturate() {
    let m = test_model(
        128_000,
        16_384,
        PerMillion(2_500_000_000),
        PerMillion(10_000_000_000),
    );
    let max = bounds(u64::MAX, u64::MAX);
    let r = chat_reservation(&m, max, Some(u64::MAX), u64::MAX);
    assert_eq!(r.amount.0, i64::MAX);
    let r = chat_reservation(&m, bounds(0, 10), None, u64::MAX);
    assert_eq!(r.output_limit, 16_384);
    assert_eq!(r.amount.0, i64::MAX);
    let r = chat_reservation(&m, max, None, 1);
    assert_eq!(r.output_limit, 0, "no room left after the prompt");
}
