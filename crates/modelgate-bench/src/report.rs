//! `mg-bench report`: reads the combined results `bench/overhead` assembles
//! (`direct` and `gateway` phases, CPU ticks, RSS), derives the overhead figures,
//! prints the summary line and a table, and writes everything to `--out`.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// A number at a JSON pointer of the results file.
fn num(results: &Value, pointer: &str) -> Result<f64, String> {
    results
        .pointer(pointer)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("the results file has no number at {pointer}"))
}

/// ms of CPU per served request of `process` during `target`'s fixed-rate phase.
fn cpu_ms_per_request(r: &Value, target: &str, process: &str) -> Result<f64, String> {
    let ticks = num(r, &format!("/{target}/cpu_ticks/{process}"))?;
    let served = num(r, &format!("/{target}/rate/requests"))?;
    let ms = ticks * 1000.0 / num(r, "/clk_tck")?;
    Ok(if served > 0.0 { ms / served } else { 0.0 })
}

pub fn summarize(r: &Value) -> Result<Value, String> {
    let both = |pointer: &str| -> Result<(f64, f64), String> {
        Ok((
            num(r, &format!("/direct{pointer}"))?,
            num(r, &format!("/gateway{pointer}"))?,
        ))
    };
    let (d50, g50) = both("/rate/latency_ms/p50")?;
    let (d99, g99) = both("/rate/latency_ms/p99")?;
    let (dttfb, gttfb) = both("/stream/ttfb_ms/p50")?;
    let (drps, grps) = both("/closed/rps")?;
    let ratio = if drps > 0.0 { grps / drps } else { 0.0 };
    let gateway_cpu = cpu_ms_per_request(r, "gateway", "gateway")?;
    let rss_mib = num(r, "/rss_kib/gateway")? / 1024.0;
    let line = format!(
        "overhead: plain p50 {:+.3} ms p99 {:+.3} ms | stream ttfb {:+.3} ms | throughput {ratio:.2}x direct | gateway cpu {gateway_cpu:.3} ms/req | rss {rss_mib:.1} MiB",
        g50 - d50,
        g99 - d99,
        gttfb - dttfb,
    );
    Ok(json!({
        "line": line,
        "plain_p50_added_ms": g50 - d50,
        "plain_p99_added_ms": g99 - d99,
        "stream_ttfb_p50_added_ms": gttfb - dttfb,
        "throughput_ratio": ratio,
        "gateway_cpu_ms_per_req": gateway_cpu,
        "simulator_cpu_ms_per_req_direct": cpu_ms_per_request(r, "direct", "simulator")?,
        "simulator_cpu_ms_per_req_via_gateway": cpu_ms_per_request(r, "gateway", "simulator")?,
        "gateway_rss_mib": rss_mib,
        "simulator_rss_mib": num(r, "/rss_kib/simulator")? / 1024.0,
    }))
}

/// The table under the summary line: one row per figure, direct vs gateway.
pub fn table(r: &Value, s: &Value) -> Result<String, String> {
    let mut out = format!(
        "{:<28}{:>12}{:>12}{:>12}\n",
        "", "direct", "gateway", "added"
    );
    let mut row = |label: &str, d: String, g: String, added: String| {
        let _ = writeln!(out, "{label:<28}{d:>12}{g:>12}{added:>12}");
    };
    let both = |pointer: &str| -> Result<(f64, f64), String> {
        Ok((
            num(r, &format!("/direct{pointer}"))?,
            num(r, &format!("/gateway{pointer}"))?,
        ))
    };
    for (label, pointer) in [
        ("plain p50 (ms)", "/rate/latency_ms/p50"),
        ("plain p99 (ms)", "/rate/latency_ms/p99"),
        ("stream ttfb p50 (ms)", "/stream/ttfb_ms/p50"),
        ("stream ttfb p99 (ms)", "/stream/ttfb_ms/p99"),
        ("stream total p50 (ms)", "/stream/latency_ms/p50"),
    ] {
        let (d, g) = both(pointer)?;
        row(
            label,
            format!("{d:.3}"),
            format!("{g:.3}"),
            format!("{:+.3}", g - d),
        );
    }
    let (d, g) = both("/rate/schedule_lag_ms/p99")?;
    row(
        "send lag p99 (ms)",
        format!("{d:.3}"),
        format!("{g:.3}"),
        String::new(),
    );
    let (d, g) = both("/rate/rps")?;
    row(
        "fixed rate achieved (req/s)",
        format!("{d:.1}"),
        format!("{g:.1}"),
        String::new(),
    );
    let (d, g) = both("/closed/rps")?;
    let ratio = format!("{:.2}x", num(s, "/throughput_ratio")?);
    row(
        "closed-loop max (req/s)",
        format!("{d:.1}"),
        format!("{g:.1}"),
        ratio,
    );
    let g = num(s, "/gateway_cpu_ms_per_req")?;
    row(
        "gateway cpu (ms/req)",
        "-".into(),
        format!("{g:.3}"),
        String::new(),
    );
    let d = num(s, "/simulator_cpu_ms_per_req_direct")?;
    let g = num(s, "/simulator_cpu_ms_per_req_via_gateway")?;
    row(
        "simulator cpu (ms/req)",
        format!("{d:.3}"),
        format!("{g:.3}"),
        String::new(),
    );
    let mut errors = [0.0, 0.0];
    for (i, target) in ["direct", "gateway"].into_iter().enumerate() {
        for phase in ["rate", "closed", "stream"] {
            errors[i] += num(r, &format!("/{target}/{phase}/errors"))?;
        }
    }
    row(
        "errors (all phases)",
        errors[0].to_string(),
        errors[1].to_string(),
        String::new(),
    );
    let _ = writeln!(
        out,
        "rss after the run: gateway {:.1} MiB, simulator {:.1} MiB",
        num(s, "/gateway_rss_mib")?,
        num(s, "/simulator_rss_mib")?
    );
    Ok(out)
}

pub fn run(file: &Path, out: Option<&Path>) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut results: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", file.display()))?;
    let summary = summarize(&results)?;
    let table = table(&results, &summary)?;
    println!("{}", summary["line"].as_str().unwrap_or_default());
    print!("{table}");
    results["summary"] = summary;
    if let Some(out) = out {
        let pretty = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(out, pretty + "\n")
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(p50: f64, p99: f64, rps: f64) -> Value {
        let dist = json!({ "p50": p50, "p99": p99 });
        json!({ "requests": 5000, "errors": 0, "rps": rps, "latency_ms": dist, "ttfb_ms": dist,
                "schedule_lag_ms": dist })
    }

    #[test]
    fn summary_line_and_table() {
        let r = json!({
            "clk_tck": 100,
            "direct": { "rate": phase(0.2, 0.5, 500.0), "closed": phase(1.0, 2.0, 10000.0),
                        "stream": phase(0.3, 0.6, 200.0), "cpu_ticks": { "simulator": 10 } },
            "gateway": { "rate": phase(0.25, 0.7, 500.0), "closed": phase(1.0, 2.0, 8000.0),
                         "stream": phase(0.4, 0.9, 200.0),
                         "cpu_ticks": { "gateway": 25, "simulator": 10 } },
            "rss_kib": { "gateway": 24678, "simulator": 8192 },
        });
        let s = summarize(&r).unwrap();
        assert_eq!(
            s["line"],
            "overhead: plain p50 +0.050 ms p99 +0.200 ms | stream ttfb +0.100 ms | \
             throughput 0.80x direct | gateway cpu 0.050 ms/req | rss 24.1 MiB"
        );
        let t = table(&r, &s).unwrap();
        assert!(t.contains("closed-loop max (req/s)"), "{t}");
        assert!(t.contains("0.80x"), "{t}");
    }
}
