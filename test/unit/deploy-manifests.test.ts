/**
 * The deployment artefacts cannot run here (no container engine), so they are checked as files:
 * - every Kubernetes document in deploy/kubernetes validates against the Kubernetes schemas
 *   (kubernetes-models) AND has no unknown field (a typo such as `readinesProbe` passes the
 *   schemas, so field names are checked against the models' type definitions too);
 * - the manifests fit together (selectors, Secret keys, ConfigMap, ports, peers, node list) and
 *   the sidecar's QMIG_* environment is accepted by the real loadConfig;
 * - the compose file runs the same image with a valid configuration;
 * - the Dockerfile's ENTRYPOINT + CMD is package.json's `qmig` bin + `serve`, it runs as a
 *   non-root user, has a HEALTHCHECK on /healthz, and the runtime image (production
 *   dependencies only) has every package the compiled code imports.
 * Each check also runs on a deliberately broken copy, to prove it can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { loadConfig, VARIABLES } from '../../src/config/config.js';
import { strictValidateWith, type KindEntry, type Obj } from '../support/k8s-validate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const K8S_DIR = join(ROOT, 'deploy', 'kubernetes');
const MODELS = join(ROOT, 'node_modules', 'kubernetes-models');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

// --- Kubernetes schemas ---------------------------------------------------------------------

const KINDS: Record<string, KindEntry> = {
  'apps/v1/StatefulSet': { model: StatefulSet, dts: join(MODELS, 'apps', 'v1', 'StatefulSet.d.ts') },
  'v1/Service': { model: Service, dts: join(MODELS, 'v1', 'Service.d.ts') },
  'v1/Secret': { model: Secret, dts: join(MODELS, 'v1', 'Secret.d.ts') },
  'v1/ConfigMap': { model: ConfigMap, dts: join(MODELS, 'v1', 'ConfigMap.d.ts') },
};

function kindKey(doc: Obj): string {
  return `${doc.apiVersion}/${doc.kind}`;
}

function strictValidate(doc: Obj): void {
  const entry = KINDS[kindKey(doc)];
  if (!entry) throw new Error(`no model for ${kindKey(doc)}: add it to KINDS`);
  strictValidateWith(entry, doc);
}

function loadK8sDocs(): Array<{ file: string; doc: Obj }> {
  const out: Array<{ file: string; doc: Obj }> = [];
  for (const file of readdirSync(K8S_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'));
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      assert.deepEqual(
        d.errors.map((e) => e.message),
        [],
        `${file}: YAML errors`,
      );
      const doc = d.toJS() as Obj | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

const docs = loadK8sDocs();
const ofKind = (kind: string) => docs.map((d) => d.doc).filter((d) => d.kind === kind);
const statefulSet = () => {
  const list = ofKind('StatefulSet');
  assert.equal(list.length, 1, 'exactly one StatefulSet');
  return list[0];
};
const container = (sts: Obj, name: string): Obj => {
  const c = sts.spec.template.spec.containers.find((x: Obj) => x.name === name);
  assert.ok(c, `container ${name} in the StatefulSet`);
  return c;
};

test('every Kubernetes document validates against the Kubernetes schemas, with no unknown field', () => {
  assert.ok(docs.length >= 5, `documents found in deploy/kubernetes: ${docs.map((d) => d.file).join(', ')}`);
  for (const { file, doc } of docs) {
    assert.doesNotThrow(() => strictValidate(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`);
    assert.equal(doc.metadata?.namespace, 'rabbitmq', `${file}: ${doc.kind} ${doc.metadata?.name} is in the rabbitmq namespace`);
  }
  assert.deepEqual(docs.map((d) => kindKey(d.doc)).sort(), [
    'apps/v1/StatefulSet',
    'v1/ConfigMap',
    'v1/Secret',
    'v1/Secret',
    'v1/Secret',
    'v1/Service',
    'v1/Service',
  ]);
});

test('the validation rejects broken manifests (so the check above can fail)', () => {
  const breakages: Array<[string, (s: Obj) => void, RegExp]> = [
    [
      'port as text',
      (s) => {
        container(s, 'qmig').ports[0].containerPort = 'fifteen';
      },
      /containerPort must be integer/,
    ],
    [
      'container without a name',
      (s) => {
        delete container(s, 'rabbitmq').name;
      },
      /must have required property 'name'|required property name/,
    ],
    [
      'probe without a port',
      (s) => {
        delete container(s, 'qmig').readinessProbe.httpGet.port;
      },
      /httpGet must have required property/,
    ],
    [
      'no selector',
      (s) => {
        delete s.spec.selector;
      },
      /required property .?selector/,
    ],
    [
      'typo in a field name',
      (s) => {
        const c = container(s, 'qmig');
        c.readinesProbe = c.readinessProbe;
        delete c.readinessProbe;
      },
      /unknown field.*\/readinesProbe/,
    ],
    [
      'typo deep inside',
      (s) => {
        container(s, 'qmig').securityContext.runAsNonRot = true;
      },
      /unknown field.*securityContext\/runAsNonRot/,
    ],
  ];
  for (const [label, breakIt, expected] of breakages) {
    const broken = structuredClone(statefulSet());
    breakIt(broken);
    assert.throws(() => strictValidate(broken), expected, label);
  }
  const svc = structuredClone(ofKind('Service')[0]);
  svc.spec.ports[0].port = 'amqp';
  assert.throws(() => strictValidate(svc), /port must be integer/);
  const svc2 = structuredClone(ofKind('Service')[0]);
  svc2.spec.publishNotReadyAdresses = true;
  assert.throws(() => strictValidate(svc2), /unknown field.*\/spec\/publishNotReadyAdresses/);
  const pvc = structuredClone(statefulSet());
  pvc.spec.template.metadata.label = { a: 'b' };
  assert.throws(() => strictValidate(pvc), /unknown field.*\/spec\/template\/metadata\/label\b/);
});

/** The QMIG_* environment of a container, with Secret references replaced by the example values. */
function containerEnv(c: Obj, secrets: Obj[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = secrets.find((s) => s.metadata.name === ref.name);
      assert.ok(secret, `${e.name}: Secret ${ref.name} is in secret.example.yaml`);
      const v = secret.stringData?.[ref.key] ?? (secret.data?.[ref.key] && Buffer.from(secret.data[ref.key], 'base64').toString());
      assert.equal(typeof v, 'string', `${e.name}: key ${ref.key} of Secret ${ref.name}`);
      env[e.name] = v;
    }
  }
  return env;
}

/** A PEM certificate and key (throw-away, made with openssl once per run) standing in for a Secret's TLS keys. */
const throwAway = (() => {
  let made: { cert: string; key: string } | null = null;
  return () => {
    if (made) return made;
    const dir = mkdtempSync(join(tmpdir(), 'qmig-deploy-tls-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=deploy-test',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    made = { cert, key };
    return made;
  };
})();

/**
 * Variables naming a file under a Secret volume mounted in container `c`: each must be a key of
 * that Secret. For loadConfig, which reads the files, they are replaced by throw-away PEM files of
 * the same kind (a key for `*.key`, a certificate otherwise).
 */
function mountedSecretFiles(
  env: Record<string, string>,
  c: Obj,
  pod: Obj,
  secrets: Obj[],
): { env: Record<string, string>; mounted: Record<string, { volume: string; key: string }> } {
  const out = { ...env };
  const mounted: Record<string, { volume: string; key: string }> = {};
  for (const [name, value] of Object.entries(env)) {
    for (const m of c.volumeMounts ?? []) {
      if (!value.startsWith(m.mountPath + '/')) continue;
      const volume = pod.volumes.find((v: Obj) => v.name === m.name);
      if (!volume?.secret) continue;
      assert.equal(m.subPath, undefined, `${m.name}: a Secret mounted with subPath never sees a renewal`);
      const key = value.slice(m.mountPath.length + 1);
      const secret = secrets.find((s) => s.metadata.name === volume.secret.secretName);
      assert.ok(secret, `${name}: Secret ${volume.secret.secretName} is in secret.example.yaml`);
      assert.ok(key in (secret.stringData ?? secret.data ?? {}), `${name}: Secret ${volume.secret.secretName} has the key ${key}`);
      mounted[name] = { volume: m.name, key };
      out[name] = /\.key$/.test(key) ? throwAway().key : throwAway().cert;
    }
  }
  return { env: out, mounted };
}

test('the qmig sidecar in the StatefulSet: image entrypoint, env from the Secret, probes on /healthz, non-root, resources', () => {
  const sts = statefulSet();
  const pod = sts.spec.template.spec;
  const qmig = container(sts, 'qmig');
  const rabbit = container(sts, 'rabbitmq');
  assert.match(rabbit.image, /^rabbitmq:3\.10/);
  assert.deepEqual(qmig.args, ['serve']);
  assert.equal(qmig.command, undefined, 'the image ENTRYPOINT (qmig) is used as is');

  const secrets = ofKind('Secret');
  for (const name of ['QMIG_USER', 'QMIG_PASSWORD', 'QMIG_STATE_SECRET']) {
    const e = qmig.env.find((x: Obj) => x.name === name);
    assert.ok(e?.valueFrom?.secretKeyRef, `${name} comes from a Secret`);
  }
  const env = containerEnv(qmig, secrets);
  const known = new Set(Object.values(VARIABLES).map((v) => v.name));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is a qmig configuration variable`);
  const tls = mountedSecretFiles(env, qmig, pod, secrets);
  // The TLS files are keys of the mounted Secret: the broker container mounts it at the same path
  // (the shovels' TLS options are paths on the broker).
  for (const name of ['QMIG_TLS_CERT_FILE', 'QMIG_TLS_KEY_FILE', 'QMIG_CA_FILE', 'QMIG_SHOVEL_CA_FILE', 'QMIG_SHOVEL_CERT_FILE'])
    assert.ok(name in tls.mounted, `${name} names a file of a mounted Secret`);
  for (const name of ['QMIG_SHOVEL_CA_FILE', 'QMIG_SHOVEL_CERT_FILE', 'QMIG_SHOVEL_KEY_FILE']) {
    assert.ok(
      rabbit.volumeMounts.some((m: Obj) => m.name === tls.mounted[name].volume && env[name].startsWith(m.mountPath + '/')),
      `${name}: the broker sees ${env[name]} too`,
    );
  }
  const config = loadConfig(tls.env);
  assert.equal(config.managementUrl.href, 'https://localhost:15671/');
  assert.equal(config.amqpUrl.href, 'amqps://localhost:5671');
  assert.equal(config.listenHost, '0.0.0.0');
  assert.ok(config.tlsCertFile, 'the sidecar serves HTTPS');

  // Peers: every pod of the StatefulSet through the headless Service, on the sidecar's port, over HTTPS.
  const expectedPeers = Array.from({ length: sts.spec.replicas }, (_, i) => `https://${sts.metadata.name}-${i}.${sts.spec.serviceName}:${config.listenPort}/`);
  assert.deepEqual(
    config.peers.map((u) => u.href),
    expectedPeers,
  );

  const qmigPort = qmig.ports.find((p: Obj) => p.containerPort === config.listenPort);
  assert.ok(qmigPort, `the sidecar declares containerPort ${config.listenPort}`);
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    assert.equal(qmig[probe]?.httpGet?.path, '/healthz', `${probe} on /healthz`);
    assert.ok([qmigPort.name, qmigPort.containerPort].includes(qmig[probe].httpGet.port), `${probe} targets the sidecar's port`);
    assert.equal(qmig[probe].httpGet.scheme, 'HTTPS', `${probe} speaks HTTPS to the sidecar`);
  }

  assert.equal(pod.securityContext?.runAsNonRoot, true, 'pod runs as non-root');
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
    assert.ok(typeof uid === 'number' && uid > 0, `${c.name} runs as a non-root uid`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
    assert.ok(c.resources?.requests?.memory && c.resources?.limits?.memory, `${c.name} has memory requests and limits`);
  }
  assert.equal(qmig.securityContext.readOnlyRootFilesystem, true);
});

test('the manifests fit together: Services, ConfigMap, Secrets, node list', () => {
  const sts = statefulSet();
  const pod = sts.spec.template.spec;
  const labels = sts.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) assert.equal(labels[k], v, `template label ${k}`);

  const services = ofKind('Service');
  const headless = services.find((s) => s.metadata.name === sts.spec.serviceName);
  assert.ok(headless, `Service ${sts.spec.serviceName} (serviceName) exists`);
  assert.equal(headless.spec.clusterIP, 'None', 'the StatefulSet service is headless');
  const portNames = new Set(pod.containers.flatMap((c: Obj) => (c.ports ?? []).map((p: Obj) => p.name)));
  for (const svc of services) {
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v, `${svc.metadata.name} selects the pods (${k})`);
    for (const p of svc.spec.ports) assert.ok(portNames.has(p.targetPort), `${svc.metadata.name}: targetPort ${p.targetPort} is a container port`);
  }
  assert.ok(
    services.some((s) => s.spec.ports.some((p: Obj) => p.port === 15680)),
    'a Service exposes the sidecar',
  );

  for (const v of pod.volumes) {
    if (v.configMap)
      assert.ok(
        ofKind('ConfigMap').some((c) => c.metadata.name === v.configMap.name),
        `ConfigMap ${v.configMap.name}`,
      );
    if (v.secret) {
      const s = ofKind('Secret').find((x) => x.metadata.name === v.secret.secretName);
      assert.ok(s, `Secret ${v.secret.secretName}`);
      for (const item of v.secret.items ?? []) assert.ok(item.key in (s.stringData ?? s.data), `Secret ${v.secret.secretName} has ${item.key}`);
    }
  }
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) containerEnv(c, ofKind('Secret'));

  const conf = ofKind('ConfigMap')[0].data as Record<string, string>;
  const nodes = [...conf['rabbitmq.conf'].matchAll(/^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$/gm)].map((m) => m[1]);
  const ns = sts.metadata.namespace;
  assert.deepEqual(
    nodes,
    Array.from({ length: sts.spec.replicas }, (_, i) => `rabbit@${sts.metadata.name}-${i}.${sts.spec.serviceName}.${ns}.svc.cluster.local`),
  );
  for (const plugin of ['rabbitmq_management', 'rabbitmq_shovel']) assert.match(conf.enabled_plugins, new RegExp(`[\\[,]${plugin}[,\\]]`));
});

// --- compose --------------------------------------------------------------------------------

/** Resolves compose interpolation the way `docker compose` would with the variables unset. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}/g,
    (_, name: string, def?: string) => def ?? `example-${name.toLowerCase()}-for-the-manifest-test`,
  );
}

test('compose: rabbitmq 3.10 with the qmig image beside it, a valid configuration', () => {
  const dir = join(ROOT, 'deploy', 'compose');
  const compose = parseYaml(readFileSync(join(dir, 'docker-compose.yaml'), 'utf8')) as Obj;
  const { rabbitmq, qmig } = compose.services;
  assert.match(rabbitmq.image, /^rabbitmq:3\.10-management$/);
  assert.equal(resolve(dir, qmig.build.context), ROOT, 'qmig is built from the repository root');
  assert.ok(existsSync(join(resolve(dir, qmig.build.context), 'Dockerfile')));
  assert.deepEqual(qmig.command, ['serve']);
  assert.equal(qmig.network_mode, 'service:rabbitmq', 'the sidecar shares the broker network namespace');
  assert.ok(
    rabbitmq.ports.some((p: string) => /:15680$/.test(p)),
    'the sidecar port is published',
  );
  assert.notEqual(String(qmig.user).split(':')[0], '0');
  for (const vol of rabbitmq.volumes as string[]) {
    const src = vol.split(':')[0];
    if (src.startsWith('.')) assert.ok(existsSync(resolve(dir, src)), `mounted file ${src} exists`);
  }
  const env = Object.fromEntries(Object.entries(qmig.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]));
  const known = new Set(Object.values(VARIABLES).map((v) => v.name));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is a qmig configuration variable`);
  const config = loadConfig(env);
  assert.equal(config.managementUrl.href, 'http://127.0.0.1:15672/');
  assert.equal(config.listenHost, '0.0.0.0');
  assert.match(readFileSync(join(dir, 'enabled_plugins'), 'utf8'), /rabbitmq_shovel[,\]]/);
});

// --- Dockerfile -----------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

interface DockerfileFacts {
  stages: number;
  entrypoint: unknown;
  cmd: unknown;
  user?: string;
  healthcheck?: string;
  expose: string[];
  runtimeRuns: string[];
}

function dockerfileFacts(text: string): DockerfileFacts {
  const ins = parseDockerfile(text);
  const last = Math.max(...ins.map((i) => i.stage));
  const final = ins.filter((i) => i.stage === last);
  const lastOf = (op: string) => final.filter((i) => i.op === op).at(-1)?.args;
  const json = (s: string | undefined) => {
    try {
      return s === undefined ? undefined : JSON.parse(s);
    } catch {
      return s; // shell form
    }
  };
  return {
    stages: last + 1,
    entrypoint: json(lastOf('ENTRYPOINT')),
    cmd: json(lastOf('CMD')),
    user: lastOf('USER'),
    healthcheck: lastOf('HEALTHCHECK'),
    expose: final.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)),
    runtimeRuns: ins.filter((i) => i.op === 'RUN').map((i) => i.args),
  };
}

function dockerfileProblems(text: string): string[] {
  const f = dockerfileFacts(text);
  const problems: string[] = [];
  if (f.stages < 2) problems.push('not multi-stage');
  if (JSON.stringify(f.entrypoint) !== JSON.stringify(['node', pkg.bin.qmig]))
    problems.push(`ENTRYPOINT ${JSON.stringify(f.entrypoint)} is not ["node","${pkg.bin.qmig}"]`);
  if (JSON.stringify(f.cmd) !== JSON.stringify(['serve'])) problems.push(`CMD ${JSON.stringify(f.cmd)} is not ["serve"]`);
  const user = f.user?.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push(`final stage USER ${f.user ?? '(none)'} is root`);
  if (!f.healthcheck || !/\/healthz/.test(f.healthcheck)) problems.push('no HEALTHCHECK on /healthz');
  if (!f.expose.includes(VARIABLES.listenPort.default!)) problems.push(`does not EXPOSE ${VARIABLES.listenPort.default}`);
  if (!f.runtimeRuns.some((r) => /npm ci\b.*--omit=dev/.test(r))) problems.push('no production-only npm ci');
  return problems;
}

test('Dockerfile: multi-stage, ENTRYPOINT+CMD = `qmig serve`, non-root, HEALTHCHECK on /healthz', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.deepEqual(dockerfileProblems(text), []);
  // The same check on broken copies.
  assert.match(dockerfileProblems(text.replace(/^USER .*$/m, 'USER root')).join(), /USER root is root/);
  assert.match(dockerfileProblems(text.replace(/^USER .*$/m, '')).join(), /USER \(none\)/);
  assert.match(dockerfileProblems(text.replace(/^CMD .*$/m, 'CMD ["start"]')).join(), /CMD \["start"\]/);
  assert.match(dockerfileProblems(text.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT ["node", "dist/main.js"]')).join(), /ENTRYPOINT/);
  assert.match(dockerfileProblems(text.replace(/^HEALTHCHECK[\s\S]*?\n(?=\S)/m, '')).join(), /HEALTHCHECK/);
});

/** The image's Node.js major (ARG NODE_IMAGE=node:<major>-…) and whether `qmig` is linked onto the PATH. */
function runtimeFacts(text: string): { nodeMajor: number; qmigOnPath: boolean } {
  const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(text);
  const onPath = parseDockerfile(text).some(
    (i) =>
      i.op === 'RUN' && new RegExp(`ln -s /app/${pkg.bin.qmig.replace(/\./g, '\\.')} /usr/(local/)?bin/qmig\\b`).test(i.args) && /chmod \d*7\d* /.test(i.args),
  );
  return { nodeMajor: image ? Number(image[1]) : 0, qmigOnPath: onPath };
}

test('Dockerfile: a current Node.js LTS (even major >= 26, Active LTS since 2026-10) and `qmig` on the PATH', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const facts = runtimeFacts(text);
  assert.ok(facts.nodeMajor >= 26 && facts.nodeMajor % 2 === 0, `node ${facts.nodeMajor}`);
  assert.equal(facts.qmigOnPath, true);
  // package.json "engines" stays honest: the lowest version the suite runs on here is allowed.
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const min = /^>=(\d+)\.(\d+)/.exec(engines);
  assert.ok(min, engines);
  const [major, minor] = process.versions.node.split('.').map(Number);
  assert.ok(major > Number(min[1]) || (major === Number(min[1]) && minor >= Number(min[2])), `this Node ${process.versions.node} satisfies engines ${engines}`);
  assert.ok(facts.nodeMajor >= Number(min[1]), 'the image satisfies engines');
  // Broken copies.
  assert.equal(runtimeFacts(text.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:20-bookworm-slim')).nodeMajor, 20);
  assert.equal(runtimeFacts(text.replace(/ln -s \S+ \/usr\/local\/bin\/qmig/, 'true')).qmigOnPath, false);
});

test('`serve` is a real subcommand of the qmig binary the image runs', async () => {
  const run = promisify(execFile);
  const entry = join(ROOT, pkg.bin.qmig.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', entry, 'serve', '--help'], { cwd: ROOT, timeout: 60_000 });
  assert.match(stdout, /qmig serve/);
  await assert.rejects(run(process.execPath, ['--import', 'tsx', entry, 'no-such-command'], { cwd: ROOT, timeout: 60_000 }), /unknown command/);
});

/** Files the Dockerfile COPYs from the build context; none may be excluded by .dockerignore. */
test('the Docker build context holds what the Dockerfile copies', () => {
  const ins = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const sources = ins
    .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1),
    );
  assert.ok(sources.length >= 4);
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const src of sources) {
    assert.ok(existsSync(join(ROOT, src)), `${src} exists`);
    const hit = ignored.find((pattern) => new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`).test(src));
    assert.equal(hit, undefined, `${src} is excluded by .dockerignore (${hit})`);
  }
});

function runtimeImports(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm)) {
          const spec = m[1] ?? m[2] ?? m[3];
          if (spec.startsWith('.') || spec.startsWith('node:')) continue;
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (!found.has(name)) found.set(name, relative(ROOT, p));
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return found;
}

test('every package the sidecar imports at runtime is a production dependency (the image has no dev deps)', () => {
  const imports = runtimeImports();
  assert.ok(imports.has('express') && imports.has('amqplib'), 'the import scan finds the real imports');
  for (const [name, file] of imports) {
    assert.ok(name in pkg.dependencies, `${file} imports ${name}, which is not in package.json "dependencies"`);
  }
});
