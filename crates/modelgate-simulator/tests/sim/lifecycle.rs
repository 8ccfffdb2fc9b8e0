//! Starting, serving on a given listener, recording, and stopping.

use modelgate_simulator::SimulatorConfig;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn dropping_the_simulator_stops_it() {
    let sim = start().await;
    let url = format!("{}/chat/completions", sim.openai_base_url());
    let body = user("gpt-4o", "hi");
    assert_eq!(
        client()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(sim);
    // A fresh client: no pooled connection may outlive the server.
    assert!(client().post(&url).json(&body).send().await.is_err());
}

#[tokio::test]
async fn serve_answers_on_a_bound_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(modelgate_simulator::serve(
        listener,
        SimulatorConfig::default(),
    ));
    let v: Value = client()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&user("gpt-4o", "served"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "served");
    server.abort();
}

#[tokio::test]
async fn requests_are_recorded_in_order_including_unknown_paths() {
    let sim = start().await;
    chat(&sim, user("a", "1")).await.unwrap();
    client()
        .get(format!("http://{}/nope?x=1", sim.addr()))
        .send()
        .await
        .unwrap();
    chat(&sim, user("b", "2 [[sim:id=two]]")).await.unwrap();
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v1/chat/completions", "/nope", "/v1/chat/completions"]
    );
    let two = sim.requests_with_id("two");
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].body["model"], "b");
    assert!(sim.requests_with_id("none").is_empty());
}
