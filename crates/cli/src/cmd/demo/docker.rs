//! `bulkhead demo --runtime docker`: the shop as Docker containers. A `dockerd` of the
//! demo's own runs in a fresh network namespace (`nsenter --net=`), with its data root,
//! socket and address pool under the demo's state directory, so the machine's Docker is
//! never touched. An image is built FROM scratch with this machine's busybox-static;
//! compose-style labels give the containers their identities (namespace `shop`,
//! `app: <service>`); the containers generate their own traffic, started once the agent
//! enforces ([`super::engine`]).

use super::engine::{Engine, SERVICES};
use anyhow::{Context, bail};
use std::path::Path;
use std::time::{Duration, Instant};

/// The demo's policies for the containers (the lab's use namespace labels Docker
/// containers do not have).
pub const POLICIES: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  ingress:
    - {action: allow, from: [{selector: {matchLabels: {app: frontend}}}], ports: [8080]}
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: data, namespace: shop}
spec:
  selector: {matchExpressions: [{key: app, operator: In, values: [db, cache]}]}
  ingress:
    - {action: allow, from: [{selector: {matchLabels: {app: api}}}], ports: [5432, 6379]}
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: intruder, namespace: shop}
spec:
  selector: {matchLabels: {app: intruder}}
  egress:
    - {action: deny, to: [{entity: world}]}
";

/// The whole Docker demo: engine, shop, server, agent; everything removed on the way out.
pub fn run(args: &super::DemoArgs) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if args.lab_name.is_empty() || args.lab_name.len() > bulkhead_policy::lab::MAX_LAB_NAME {
        bail!(
            "demo: --lab-name must be 1 to {} characters",
            bulkhead_policy::lab::MAX_LAB_NAME
        );
    }
    let (state, temporary) = match &args.state_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("bulkhead-demo-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut children = super::children::Children::default();
    let result =
        Engine::start(&format!("{}-dk", args.lab_name), &state.join("docker")).and_then(|engine| {
            let r = serve(args, &engine, &state, &stop, &mut children);
            // The agent and server go first, then the containers and the daemon.
            stop.store(true, Ordering::SeqCst);
            children.stop_all();
            drop(engine);
            r
        });
    children.stop_all();
    if temporary {
        let _ = std::fs::remove_dir_all(&state);
    }
    result
}

fn serve(
    args: &super::DemoArgs,
    engine: &Engine,
    state: &Path,
    stop: &std::sync::atomic::AtomicBool,
    children: &mut super::children::Children,
) -> anyhow::Result<()> {
    engine.shop()?;
    eprintln!(
        "demo: docker engine in namespace {} runs the shop",
        engine.netns
    );
    let exe = std::env::current_exe().context("finding the bulkhead binary")?;
    let server = children.start_server(&exe, &args.listen, state)?;
    let api = super::children::Api::new(&server.url, &server.admin_token);
    api.apply_policies("demo/docker-shop.yaml", POLICIES)?;
    let agent_token = state.join("agent.token");
    api.create_agent_token(&agent_token)?;
    let backend = match args.backend {
        super::Backend::Nft => "nft",
        super::Backend::Ebpf => "ebpf",
    };
    let netns = Path::new("/run/netns").join(&engine.netns);
    let extra = [
        "--runtime".to_string(),
        "docker".to_string(),
        "--docker-host".to_string(),
        engine.host(),
        "--docker-netns".to_string(),
        netns.display().to_string(),
    ];
    let agent_state = state.join("agent");
    children.start_agent_with(
        &exe,
        &server.url,
        &agent_token,
        &extra,
        backend,
        &agent_state,
    )?;
    // Traffic once the agent enforces, so the map shows the policies' verdicts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let enforcing = || {
        std::fs::read_to_string(agent_state.join("status.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|v| v["revision"].is_u64())
    };
    while !enforcing() {
        if Instant::now() > deadline {
            eprintln!("demo: the agent has not enforced yet; starting the traffic anyway");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    engine.traffic()?;
    println!(
        "Bulkhead demo is running: {} Docker containers, policies stored, agent on the {backend} backend.",
        SERVICES.len()
    );
    println!("Open the map (the token is in the fragment, which the browser never sends):");
    println!("{}/#token={}", server.url, server.admin_token);
    println!("Press Ctrl-C to stop; everything the demo created is removed.");
    std::io::Write::flush(&mut std::io::stdout()).ok();
    children.wait_for_stop_signal(stop)
}
