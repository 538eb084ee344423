//! Property tests: nothing panics on arbitrary input, and the code printer round-trips.

use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::code::{BinOp, EvalError, Expr, Limits, eval, parse};
use fedmoa_rewards::math::extract_answer;
use fedmoa_rewards::rewards::{
    CodePassRate, CodeSyntax, Format, LengthConfig, MathAccuracy, ReasoningConfig,
};
use proptest::prelude::*;

/// Strings made of the language's own tokens, so the parser gets past the lexer often.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "x",
        "y",
        "f",
        "(",
        ")",
        "+",
        "-",
        "*",
        "/",
        "%",
        "<",
        "<=",
        ">",
        ">=",
        "==",
        "!=",
        "=",
        "if",
        "then",
        "else",
        "let",
        "in",
        "0",
        "1",
        "7",
        "9223372036854775807",
        "9223372036854775808",
        "@",
        " ",
    ]);
    prop::collection::vec(token, 0..60).prop_map(|t| t.join(" "))
}

fn op() -> impl Strategy<Value = BinOp> {
    prop::sample::select(vec![
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
    ])
}

/// Expressions over `x` and one `let`-bound `y`.
fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Expr::Int),
        (-20i64..20).prop_map(Expr::Int),
        Just(Expr::x()),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            (op(), inner.clone(), inner.clone()).prop_map(|(o, a, b)| Expr::bin(o, a, b)),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| Expr::If(
                Box::new(c),
                Box::new(a),
                Box::new(b)
            )),
            (inner.clone(), inner.clone()).prop_map(|(v, body)| {
                let body = Expr::bin(BinOp::Add, body, Expr::Var("y".into()));
                Expr::Let("y".into(), Box::new(v), Box::new(body))
            }),
        ]
    })
}

fn prompts() -> [Prompt; 2] {
    let base = Prompt {
        id: "p".into(),
        task: "math".into(),
        text: "q".into(),
        reference: Reference::Number { value: 3.0 },
        solution: None,
    };
    let code = Prompt {
        task: "code".into(),
        reference: Reference::IoCases {
            cases: vec![(0, 1), (5, -3), (i64::MAX, i64::MIN)],
        },
        ..base.clone()
    };
    [base, code]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_any_string(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn parser_and_interpreter_never_panic_on_token_soup(src in token_soup(), x in any::<i64>()) {
        if let Ok(program) = parse(&src) {
            let _ = eval(&program, x, &Limits::default());
        }
    }

    #[test]
    fn printing_round_trips(e in expr(), x in -50i64..50) {
        let printed = e.to_string();
        let reparsed = parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}: {err}")))?;
        prop_assert_eq!(&reparsed, &e, "{}", printed);
        if let Err(err) = eval(&e, x, &Limits::default()) {
            prop_assert!(matches!(err, EvalError::DivisionByZero | EvalError::Overflow));
        }
    }

    #[test]
    fn rewards_never_panic_and_stay_in_range(completion in any::<String>(), soup in token_soup()) {
        let rewards: Vec<Box<dyn RewardFn>> = vec![
            Box::new(MathAccuracy::default()),
            Box::new(CodePassRate::default()),
            Box::new(CodeSyntax::default()),
            Box::new(Format::default()),
            Box::new(LengthConfig::soft(16, 8).build().unwrap()),
            Box::new(ReasoningConfig { id: None, min_steps: 2 }.build().unwrap()),
        ];
        let wrapped = format!("<think> {completion} </think> <answer> {soup} </answer>");
        for text in [completion.as_str(), soup.as_str(), wrapped.as_str()] {
            let _ = extract_answer(text);
            for prompt in &prompts() {
                for r in &rewards {
                    if let Ok(v) = r.score(prompt, text) {
                        prop_assert!(r.range().contains(v), "{} gave {} on {:?}", r.id(), v, text);
                    }
                }
            }
        }
    }
}
