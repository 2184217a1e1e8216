/**
 * Offline checks of the deployment files (no API server, no GPU here; docs/deploy.md says what
 * that leaves unverified):
 *  - deploy/helm/whisper-server: `helm lint --strict`, `helm template` with the value sets in its
 *    ci/ folder, what each renders, the termination-budget `fail`, values.schema.json refusals,
 *    `kubernetes-validate --strict` against several Kubernetes releases, the custom resources
 *    (ScaledObject, ServiceMonitor, HTTPRoute) against their CRD schemas
 *    (scripts/ci/validate-crds.mjs), checkov with only the skips the chart documents, and that
 *    the env variables and metrics the chart relies on exist in the server (its config parser
 *    accepts each rendered env; the server started with the default pod's env answers the
 *    probes' paths, exports the metrics and exits 0 on SIGTERM);
 *  - deploy/compose/multi-gpu.yml (YAML parse + structure; `docker compose config` where a compose
 *    CLI exists) and deploy/compose/nginx.conf (`nginx -t` on a copy whose upstream hostnames
 *    point at 127.0.0.1).
 * The tools come from scripts/ci/setup-deploy-tools.sh (.cache/deploy-tools). Without them the
 * suite is skipped with a message, except under CI=true, where it fails.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createServer } from 'node:net';
import { EMBEDDED_MODEL_DIR, envSchema, parseConfig, ROOT_DIR } from '../../src/config.js';

const TOOLS = path.join(ROOT_DIR, '.cache', 'deploy-tools');
const HELM = path.join(TOOLS, 'bin', 'helm');
const VENV = path.join(TOOLS, 'venv', 'bin');
const NODE_MODULES = path.join(TOOLS, 'node', 'node_modules');
const CHART = path.join(ROOT_DIR, 'deploy', 'helm', 'whisper-server');
const COMPOSE_DIR = path.join(ROOT_DIR, 'deploy', 'compose');
const NGINX = '/usr/sbin/nginx';
const IN_CI = ['1', 'true'].includes(String(process.env.CI ?? '').toLowerCase());
/** Kubernetes releases the rendered objects must be valid for (the chart's kubeVersion is >=1.30). */
const K8S_VERSIONS = ['1.30.0', '1.33.0', '1.35.0', '1.37.0'];

const missing = [HELM, path.join(VENV, 'kubernetes-validate'), path.join(VENV, 'checkov'), path.join(NODE_MODULES, '@kubernetes-models', 'keda'), path.join(NODE_MODULES, 'yaml')]
  .filter((p) => !existsSync(p))
  .map((p) => path.relative(ROOT_DIR, p));
const haveTools = missing.length === 0;
const SETUP_HINT = `run: bash scripts/ci/setup-deploy-tools.sh (missing: ${missing.join(', ')})`;
if (!haveTools && !IN_CI) console.warn(`[deploy.test] skipped: the offline deploy tools are not installed; ${SETUP_HINT}`);

const run = (file: string, args: string[], opts: { cwd?: string; input?: string } = {}): SpawnSyncReturns<string> =>
  spawnSync(file, args, { cwd: opts.cwd ?? ROOT_DIR, input: opts.input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, BC_SKIP_MAPPING: 'TRUE' } });
const output = (r: SpawnSyncReturns<string>) => `${r.stdout ?? ''}${r.stderr ?? ''}`;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; stringData?: Record<string, string> };
/** The parts of the `yaml` package (installed under .cache/deploy-tools, not a project dependency) used here. */
type Yaml = { parseAllDocuments(text: string): Array<{ toJS(): any }>; parse(text: string, options?: { merge?: boolean }): any; stringify(value: unknown): string };
let YAML: Yaml;
const loadYaml = async () => (YAML ??= await import(pathToFileURL(path.join(NODE_MODULES, 'yaml', 'dist', 'index.js')).href) as Yaml);

/** Value sets in the chart's ci/ folder, plus the defaults. */
const VALUE_SETS = ['default', ...readdirSync(path.join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml')).map((f) => f.replace(/-values\.yaml$/, '')).sort()];
const valuesArgs = (set: string) => (set === 'default' ? [] : ['-f', path.join(CHART, 'ci', `${set}-values.yaml`)]);
const template = (args: string[]) => run(HELM, ['template', 'demo', CHART, '--namespace', 'stt', ...args]);

describe('deploy tools', () => {
  it.runIf(!haveTools && IN_CI)('are installed (CI=true)', () => {
    throw new Error(`the offline deploy tools are missing in CI; .ci/run should have run scripts/ci/setup-*.sh. ${SETUP_HINT}`);
  });
  it.runIf(haveTools)('are the pinned versions', () => {
    expect(output(run(HELM, ['version', '--short']))).toMatch(/^v4\.1\.4\b/);
    const pins = [...readFileSync(path.join(ROOT_DIR, 'deploy', 'requirements-check.txt'), 'utf8').matchAll(/^([a-z-]+)==(\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(pins.map(([name]) => name).sort()).toEqual(['checkov', 'kubernetes-validate']);
    const r = run(path.join(VENV, 'python'), ['-c', 'import sys, importlib.metadata as m; print(" ".join(m.version(n) for n in sys.argv[1:]))', ...pins.map(([name]) => name)]);
    expect(r.stdout.trim()).toBe(pins.map(([, version]) => version).join(' '));
  });
});

describe.skipIf(!haveTools)('helm chart deploy/helm/whisper-server', () => {
  let outDir = '';
  const rendered = new Map<string, K8sObject[]>();
  const files = new Map<string, string>();
  const objects = (set: string) => rendered.get(set)!;
  const one = (set: string, kind: string) => {
    const found = objects(set).filter((o) => o.kind === kind);
    expect(found, `${set}: one ${kind}`).toHaveLength(1);
    return found[0]!;
  };
  const container = (set: string) => one(set, 'Deployment').spec.template.spec.containers[0];
  const env = (set: string) => Object.fromEntries(container(set).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(tmpdir(), 'deploy-test-'));
    const yaml = await loadYaml();
    for (const set of VALUE_SETS) {
      const r = template(valuesArgs(set));
      expect(r.status, `helm template (${set}): ${output(r)}`).toBe(0);
      const file = path.join(outDir, `${set}.yaml`);
      writeFileSync(file, r.stdout);
      files.set(set, file);
      rendered.set(set, yaml.parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean));
    }
  });

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('passes helm lint --strict with every value set', () => {
    for (const set of VALUE_SETS) {
      const r = run(HELM, ['lint', '--strict', CHART, ...valuesArgs(set)]);
      expect(r.status, `${set}: ${output(r)}`).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it('renders the expected objects for each value set', () => {
    const kinds = Object.fromEntries(VALUE_SETS.map((s) => [s, objects(s).map((o) => o.kind).sort()]));
    const base = ['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service'];
    expect(kinds).toEqual({
      default: base,
      full: [...base, 'HTTPRoute', 'Ingress', 'PersistentVolumeClaim', 'ScaledObject', 'Secret', 'ServiceMonitor'].sort(),
      gateway: [...base, 'HTTPRoute'].sort(),
      hpa: [...base, 'HorizontalPodAutoscaler'].sort(),
      ingress: [...base, 'Ingress', 'PersistentVolumeClaim'].sort(),
      keda: [...base, 'ScaledObject', 'Secret', 'ServiceMonitor'].sort(),
      mig: base,
    });
  });

  it('defaults: one GPU per pod, /readyz and /livez probes, preStop sleep, drain-sized grace, non-root', () => {
    const dep = one('default', 'Deployment');
    const pod = dep.spec.template.spec;
    const c = container('default');
    expect(dep.spec.replicas).toBe(2);
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(c.resources.requests['nvidia.com/gpu']).toBe(1);
    expect(c.resources.limits.cpu).toBeUndefined();
    expect(c.startupProbe.httpGet.path).toBe('/readyz');
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(900);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    expect(c.lifecycle.preStop.sleep.seconds).toBe(10);
    const e = env('default');
    expect(e).toMatchObject({ PORT: '8000', DEVICE: 'cuda', MODEL_ID: 'openai/whisper-large-v3', HF_HOME: '/data/hf-cache', STREAM_DRAIN_MS: '30000', SHUTDOWN_GRACE_MS: '10000', WS_PING_INTERVAL_MS: '20000', MAX_SESSIONS: '64' });
    expect(e.API_KEYS).toBeUndefined();
    // preStop 10 s + drain 30 s + model work 10 s + margin 10 s.
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
    expect(pod.volumes.find((v: any) => v.name === 'hf-cache').emptyDir).toBeDefined();
    expect(c.volumeMounts).toContainEqual({ name: 'hf-cache', mountPath: '/data/hf-cache' });
    expect(one('default', 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('MIG: the slice resource instead of a whole GPU, pre-filled claim, offline hub', () => {
    const c = container('mig');
    expect(c.resources.limits['nvidia.com/mig-3g.40gb']).toBe(1);
    expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(env('mig')).toMatchObject({ HF_HUB_OFFLINE: '1', MAX_SESSIONS: '24' });
    const pod = one('mig', 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: any) => v.name === 'hf-cache').persistentVolumeClaim.claimName).toBe('whisper-models');
    expect(pod.nodeSelector['nvidia.com/gpu.product']).toBeDefined();
  });

  it('KEDA: open streams + file requests vs capacity and queue depth, never below one pod, slow scale-down', () => {
    const so = one('keda', 'ScaledObject');
    expect(one('keda', 'Deployment').spec.replicas).toBeUndefined();
    expect(so.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'demo-whisper-server' });
    expect(so.spec.minReplicaCount).toBe(2);
    expect(so.spec.maxReplicaCount).toBe(12);
    const [active, queue, lag] = so.spec.triggers;
    expect(active).toMatchObject({ type: 'prometheus', metricType: 'AverageValue', metadata: { threshold: '38' } });
    expect(active.metadata.query).toContain('whisper_sessions{namespace="stt",service="demo-whisper-server"}');
    expect(active.metadata.query).toContain('whisper_file_requests_in_progress{');
    expect(queue.metadata).toMatchObject({ threshold: '8' });
    expect(queue.metadata.query).toContain('whisper_scheduler_queue_depth{');
    expect(lag).toMatchObject({ metricType: 'Value', metadata: { threshold: '3' } });
    expect(lag.metadata.query).toContain('whisper_stream_lag_seconds_bucket');
    // KEDA allows a fallback only with AverageValue triggers.
    expect(so.spec.fallback).toBeUndefined();
    const behavior = so.spec.advanced.horizontalPodAutoscalerConfig.behavior;
    expect(behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(600);
    expect(behavior.scaleDown.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: 300 }]);
    // Without the lag trigger the fallback is there, and never under minReplicaCount.
    expect(one('full', 'ScaledObject').spec.fallback).toEqual({ failureThreshold: 3, replicas: 2 });
  });

  it('HPA alternative: Pods metrics from prometheus-adapter, same behaviour', () => {
    const hpa = one('hpa', 'HorizontalPodAutoscaler');
    expect(hpa.spec.minReplicas).toBe(1);
    expect(hpa.spec.metrics.map((m: any) => [m.pods.metric.name, m.pods.target.averageValue])).toEqual([['whisper_active', '40'], ['whisper_queue', '8']]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(900);
    expect(one('hpa', 'Deployment').spec.replicas).toBeUndefined();
  });

  it('API keys: chart Secret or existingSecret, and the ServiceMonitor scrapes /metrics with one key', () => {
    const secret = one('keda', 'Secret');
    expect(secret.stringData).toEqual({ API_KEYS: 'ci-key-0123456789abcdef,ci-key-fedcba9876543210', 'metrics-key': 'ci-key-0123456789abcdef' });
    expect(env('keda').API_KEYS).toEqual({ secretKeyRef: { name: 'demo-whisper-server-api-keys', key: 'API_KEYS' } });
    expect(one('keda', 'Deployment').spec.template.metadata.annotations['checksum/api-keys']).toMatch(/^[a-f0-9]{64}$/);
    const sm = one('keda', 'ServiceMonitor');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics', authorization: { type: 'Bearer', credentials: { name: 'demo-whisper-server-api-keys', key: 'metrics-key' } } });
    expect(env('hpa').API_KEYS).toEqual({ secretKeyRef: { name: 'whisper-api-keys', key: 'API_KEYS' } });
  });

  it('routing: ingress-nginx idle timeouts above the ping interval; HTTPRoute without a request deadline', () => {
    const ing = one('ingress', 'Ingress');
    const a = ing.metadata.annotations!;
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000).toBeGreaterThan(Number(env('ingress').WS_PING_INTERVAL_MS));
    expect(a['nginx.ingress.kubernetes.io/proxy-request-buffering']).toBe('off');
    const route = one('gateway', 'HTTPRoute');
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s' });
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'demo-whisper-server', port: 8000 }]);
    expect(one('gateway', 'Service').spec.ports[0].appProtocol).toBe('kubernetes.io/ws');
    const r = template(['-f', path.join(CHART, 'ci', 'ingress-values.yaml'), '--set', 'ingress.nginx.timeoutSeconds=15']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ingress.nginx.timeoutSeconds=15 must exceed server.wsPingIntervalMs=20000');
  });

  it('fails to render when terminationGracePeriodSeconds cannot hold preStop + stream drain + model drain + margin', () => {
    const short = template(['--set', 'shutdown.terminationGracePeriodSeconds=45']);
    expect(short.status).not.toBe(0);
    expect(short.stderr).toContain('shutdown.terminationGracePeriodSeconds=45 is too short');
    expect(short.stderr).toContain('= 60 s');
    const longDrain = template(['--set', 'shutdown.streamDrainMs=120000']);
    expect(longDrain.status).not.toBe(0);
    expect(longDrain.stderr).toContain('= 150 s');
    // Exactly enough renders (the full set: 10 + 300 + 10 + 10 = 330).
    expect(one('full', 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(330);
    expect(env('full').STREAM_DRAIN_MS).toBe('300000');
  });

  it('values.schema.json and required values refuse bad settings', () => {
    const cases: Array<[string[], string]> = [
      [['--set', 'autoscaling.mode=bogus'], 'autoscaling/mode'],
      [['--set', 'autoscaling.mode=keda', '--set', 'autoscaling.minReplicas=0'], 'autoscaling/minReplicas'],
      [['--set', 'gpu.count=0.5'], 'gpu/count'],
      [['--set', 'gpu.resourceName=nvidia gpu'], 'gpu/resourceName'],
      [['--set', 'apiKeys.keys={short}'], 'apiKeys/keys/0'],
      [['--set', 'cache.type=nfs'], 'cache/type'],
      [['--set', 'replicas=3'], "additional properties 'replicas' not allowed"],
      [['--set', 'cache.type=existingClaim'], 'cache.existingClaim is required'],
      [['--set', 'gatewayRoute.enabled=true'], 'gatewayRoute.parentRefs is required'],
      [['--kube-version', '1.29.0'], 'incompatible with Kubernetes v1.29.0'],
    ];
    for (const [args, message] of cases) {
      const r = template(args);
      expect(r.status, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
  });

  it('sets only env variables the server reads and queries only metrics it exports', () => {
    const known = new Set([...Object.keys(envSchema.shape), 'HF_HOME', 'HF_HUB_OFFLINE', 'HF_TOKEN']);
    const names = new Set(VALUE_SETS.flatMap((s) => Object.keys(env(s))));
    expect([...names].filter((n) => !known.has(n))).toEqual([]);
    const metricsSource = readFileSync(path.join(ROOT_DIR, 'src', 'metrics.ts'), 'utf8');
    const queried = new Set(VALUE_SETS.flatMap((s) => objects(s).filter((o) => o.kind === 'ScaledObject').flatMap((o) => o.spec.triggers.map((t: any) => t.metadata.query as string)))
      .flatMap((q) => [...q.matchAll(/whisper_([a-z_]+?)(?:_bucket)?\{/g)].map((m) => m[1]!)));
    expect([...queried].sort()).toEqual(['file_requests_in_progress', 'scheduler_queue_depth', 'sessions', 'stream_lag_seconds']);
    for (const m of queried) expect(metricsSource, `src/metrics.ts exports whisper_${m}`).toMatch(new RegExp(`gauge\\('${m}'|PREFIX\\}${m}\``));
  });

  it('each rendered env passes the server\'s own config validation', () => {
    for (const set of VALUE_SETS) {
      const e = env(set);
      // secretKeyRef values stand in as a valid key; everything else is the rendered string.
      const flat = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === 'string' ? v : k === 'API_KEYS' ? 'ci-key-0123456789abcdef' : 'x']));
      const config = parseConfig(flat, true);
      expect(config.PORT, set).toBe(container(set).ports[0].containerPort);
      expect(config.STREAM_DRAIN_MS + config.SHUTDOWN_GRACE_MS, set).toBeLessThan(one(set, 'Deployment').spec.template.spec.terminationGracePeriodSeconds * 1000);
    }
  });

  // Needs what `npm install` builds (the sidecar venv and the embedded model), as every server test does.
  it.skipIf(!existsSync(EMBEDDED_MODEL_DIR))('the server started with the default pod\'s env (CPU, embedded model) answers the probe paths, exports the metrics, exits 0 on SIGTERM', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as { port: number };
        srv.close(() => resolve(p));
      });
    });
    const rendered = env('default') as Record<string, string>;
    // The pod's env, with what only a GPU node has swapped for this host: CPU and the embedded model.
    const { MODEL_ID: _gpuModel, ...podEnv } = rendered;
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...podEnv, DEVICE: 'cpu', PORT: String(port), HOST: '127.0.0.1', HF_HOME: mkdtempSync(path.join(tmpdir(), 'hf-')), HF_HUB_OFFLINE: '1' };
    delete childEnv.MODEL_ID;
    delete childEnv.API_KEYS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT_DIR, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const c = container('default');
    const probe = async (p: string) => { try { return (await fetch(`http://127.0.0.1:${port}${p}`)).status; } catch { return 0; } };
    try {
      const seen = { liveBeforeReady: false, ready: false };
      for (let i = 0; i < 480 && !seen.ready && child.exitCode === null; i++) {
        const live = await probe(c.livenessProbe.httpGet.path);
        seen.ready = (await probe(c.readinessProbe.httpGet.path)) === 200;
        if (live === 200 && !seen.ready) seen.liveBeforeReady = true;
        if (!seen.ready) await new Promise((r) => setTimeout(r, 250));
      }
      expect(seen.ready, out.slice(-2000)).toBe(true);
      expect(await probe(c.startupProbe.httpGet.path)).toBe(200);
      expect(await probe(c.livenessProbe.httpGet.path)).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of ['whisper_sessions', 'whisper_sessions_max', 'whisper_file_requests_in_progress', 'whisper_scheduler_queue_depth', 'whisper_stream_lag_seconds_bucket', 'whisper_draining', 'whisper_sidecar_up']) {
        expect(metrics, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
      }
      expect(metrics).toMatch(/^whisper_sessions_max 64$/m);
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Nothing open: far inside the time the pod gives it after the preStop sleep.
      const budgetMs = (one('default', 'Deployment').spec.template.spec.terminationGracePeriodSeconds - c.lifecycle.preStop.sleep.seconds) * 1000;
      expect(Date.now() - started).toBeLessThan(budgetMs);
      console.log(`[deploy.test] server with the chart's env: /livez 200 before /readyz 200: ${seen.liveBeforeReady}; exit ${Date.now() - started} ms after SIGTERM`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(childEnv.HF_HOME!, { recursive: true, force: true });
    }
  });

  it(`core objects pass kubernetes-validate --strict for Kubernetes ${K8S_VERSIONS.join(', ')} (and 1.28 is refused)`, () => {
    const all = VALUE_SETS.map((s) => files.get(s)!);
    const crdKinds = new Set(['ScaledObject', 'ServiceMonitor', 'HTTPRoute']);
    const coreCount = VALUE_SETS.reduce((n, s) => n + objects(s).filter((o) => !crdKinds.has(o.kind)).length, 0);
    for (const version of K8S_VERSIONS) {
      const r = run(path.join(VENV, 'kubernetes-validate'), ['--strict', '-k', version, ...all]);
      const out = output(r);
      expect(out, version).not.toMatch(/ERROR|did not validate/);
      expect(out.match(/ passed for resource /g)?.length, `${version}: ${out}`).toBe(coreCount);
      // The only objects without a schema are the custom resources (checked against their CRDs below).
      for (const line of out.split('\n').filter((l) => l.includes("Couldn't find schema"))) expect(line).toMatch(/kind (ScaledObject|ServiceMonitor|HTTPRoute) /);
    }
    // The validator knows versions: 1.28 has no preStop sleep action.
    const old = output(run(path.join(VENV, 'kubernetes-validate'), ['--strict', '-k', '1.28.0', files.get('default')!]));
    expect(old).toContain("('sleep' was unexpected)");
  });

  it('custom resources pass their CRD schemas (KEDA, prometheus-operator, Gateway API), and broken ones do not', async () => {
    const r = run(process.execPath, [path.join(ROOT_DIR, 'scripts', 'ci', 'validate-crds.mjs'), ...VALUE_SETS.map((s) => files.get(s)!)]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain('6 checked, 0 failed');
    const yaml = await loadYaml();
    const route = structuredClone(one('gateway', 'HTTPRoute'));
    route.spec.rules[0].timeouts.request = 'forever';
    const so = structuredClone(one('keda', 'ScaledObject'));
    delete so.spec.triggers[0].type;
    const sm = structuredClone(one('keda', 'ServiceMonitor'));
    sm.spec.endpoints[0].authorization.type = 42;
    const bad = path.join(outDir, 'broken-crs.yaml');
    writeFileSync(bad, [route, so, sm].map((o) => yaml.stringify(o)).join('---\n'));
    const b = run(process.execPath, [path.join(ROOT_DIR, 'scripts', 'ci', 'validate-crds.mjs'), bad]);
    expect(b.status).toBe(1);
    expect(b.stdout).toContain('3 checked, 3 failed');
  });

  it('checkov passes every check except the skips the chart documents, each with its reason', () => {
    const dir = path.join(outDir, 'checkov');
    mkdirSync(dir, { recursive: true });
    for (const set of VALUE_SETS) writeFileSync(path.join(dir, `${set}.yaml`), readFileSync(files.get(set)!, 'utf8'));
    const r = run(path.join(VENV, 'checkov'), ['-d', dir, '--framework', 'kubernetes', '--skip-download', '--output', 'json']);
    const reports = [JSON.parse(r.stdout)].flat();
    const k8s = reports.find((x: any) => x.check_type === 'kubernetes');
    const failed = k8s.results.failed_checks.map((c: any) => `${c.check_id} ${c.resource} (${c.file_path})`);
    expect(failed).toEqual([]);
    expect(r.status).toBe(0);
    // The documented skips: the checkov.io/skipN annotations in templates/deployment.yaml.
    const template = readFileSync(path.join(CHART, 'templates', 'deployment.yaml'), 'utf8');
    const documented = new Map([...template.matchAll(/checkov\.io\/skip\d+: (CKV\w+)=(.+)/g)].map((m) => [m[1]!, m[2]!.trim()]));
    const skipped = k8s.results.skipped_checks as Array<{ check_id: string; check_result: { suppress_comment?: string } }>;
    for (const s of skipped) {
      expect(documented.has(s.check_id), `undocumented skip ${s.check_id}`).toBe(true);
      expect(s.check_result.suppress_comment?.length ?? 0).toBeGreaterThan(20);
    }
    // The full set pins a digest: that skip is not rendered there, and the check passes.
    expect(k8s.results.passed_checks.some((c: any) => c.check_id === 'CKV_K8S_43' && c.file_path.endsWith('full.yaml'))).toBe(true);
    console.log(`[deploy.test] checkov ${k8s.summary.checkov_version}: passed ${k8s.summary.passed}, failed ${k8s.summary.failed}, skipped ${k8s.summary.skipped} (${[...new Set(skipped.map((s) => s.check_id))].sort().join(', ')}) over ${k8s.summary.resource_count} resources in ${VALUE_SETS.length} value sets`);
  });
});

describe.skipIf(!haveTools)('multi-GPU compose deploy/compose', () => {
  const composeText = readFileSync(path.join(COMPOSE_DIR, 'multi-gpu.yml'), 'utf8');
  const nginxText = readFileSync(path.join(COMPOSE_DIR, 'nginx.conf'), 'utf8');
  /** "50s" / "10m" → seconds. */
  const seconds = (v: string) => {
    const m = /^(\d+)(s|m)$/.exec(v);
    if (!m) throw new Error(`not a duration: ${v}`);
    return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
  };

  it('multi-gpu.yml: one server per GPU, stop grace above the drain, nginx in front', async () => {
    const yaml = await loadYaml();
    const compose = yaml.parse(composeText, { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
    const servers = Object.entries(compose.services).filter(([name]) => name.startsWith('whisper-gpu'));
    expect(servers.length).toBeGreaterThanOrEqual(2);
    const gpuIds = servers.map(([, s]) => {
      const devices = s.deploy.resources.reservations.devices;
      expect(devices).toHaveLength(1);
      expect(devices[0]).toMatchObject({ driver: 'nvidia', capabilities: ['gpu'] });
      expect(devices[0].device_ids).toHaveLength(1);
      expect(s.environment.DEVICE).toBe('cuda');
      expect(s.volumes).toContain('hf-cache:/data/hf-cache');
      expect(s.ports, 'servers are reached through nginx only').toBeUndefined();
      const drainS = (Number(s.environment.STREAM_DRAIN_MS) + Number(s.environment.SHUTDOWN_GRACE_MS)) / 1000;
      expect(seconds(s.stop_grace_period)).toBeGreaterThanOrEqual(drainS + 5);
      expect(Number(s.environment.WS_PING_INTERVAL_MS) / 1000).toBeLessThan(seconds(/proxy_read_timeout (\S+);/.exec(nginxText)![1]!));
      return devices[0].device_ids[0];
    });
    expect(new Set(gpuIds).size).toBe(servers.length);
    const lb = compose.services.lb;
    expect(lb.volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(lb.depends_on.sort()).toEqual(servers.map(([n]) => n).sort());
    expect(compose.volumes).toHaveProperty('hf-cache');
    // nginx's upstream lists exactly these servers.
    const upstream = [...nginxText.matchAll(/^\s*server (whisper-gpu\d+):8000\b/gm)].map((m) => m[1]);
    expect(upstream.sort()).toEqual(servers.map(([n]) => n).sort());
  });

  it('nginx.conf: least_conn, WebSocket upgrade headers, hour-long idle timeouts', () => {
    expect(nginxText).toMatch(/upstream whisper \{[^}]*least_conn;/);
    expect(nginxText).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(nginxText).toContain('proxy_set_header Connection $connection_upgrade;');
    expect(nginxText).toContain('proxy_http_version 1.1;');
    expect(seconds(/proxy_read_timeout (\S+);/.exec(nginxText)![1]!)).toBeGreaterThanOrEqual(3600);
    expect(seconds(/proxy_send_timeout (\S+);/.exec(nginxText)![1]!)).toBeGreaterThanOrEqual(3600);
  });

  it.skipIf(!existsSync(NGINX) && !IN_CI)('nginx -t accepts nginx.conf (upstream hostnames mapped to 127.0.0.1)', () => {
    expect(existsSync(NGINX), `${NGINX} missing (apt-get install nginx)`).toBe(true);
    const prefix = mkdtempSync(path.join(tmpdir(), 'nginx-t-'));
    onTestFinished(() => rmSync(prefix, { recursive: true, force: true }));
    mkdirSync(path.join(prefix, 'logs'));
    const conf = path.join(prefix, 'nginx.conf');
    const testCopy = (text: string) => text.replace(/\bwhisper-gpu\d+:8000\b/g, '127.0.0.1:8000').replaceAll('/var/log/nginx/', `${prefix}/logs/`);
    writeFileSync(conf, testCopy(nginxText));
    const r = run(NGINX, ['-t', '-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stderr).toContain('test is successful');
    // And it is really checked: a typo is refused.
    writeFileSync(conf, testCopy(nginxText.replace('least_conn;', 'least_connn;')));
    expect(run(NGINX, ['-t', '-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')]).status).not.toBe(0);
  });

  const composeCli = [['docker', 'compose'], ['docker-compose']].find(([cmd, ...sub]) => spawnSync(cmd!, [...sub, 'version'], { encoding: 'utf8' }).status === 0);
  it.skipIf(!composeCli)('docker compose config accepts multi-gpu.yml (only where a compose CLI exists)', () => {
    const [cmd, ...sub] = composeCli!;
    const r = run(cmd!, [...sub, '-f', path.join(COMPOSE_DIR, 'multi-gpu.yml'), 'config', '-q'], { cwd: COMPOSE_DIR });
    expect(r.status, output(r)).toBe(0);
  });
});
