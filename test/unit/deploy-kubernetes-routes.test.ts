/**
 * The Kubernetes routes beside the plain StatefulSet (deploy/kubernetes, deploy-manifests.test.ts):
 * - deploy/operator/rabbitmqcluster.yaml validates against the cluster operator's own CRD schema
 *   (test/fixtures/rabbitmq-cluster-operator, unknown fields refused as the API server prunes
 *   them) and its sidecar container against the Kubernetes Container schema;
 * - deploy/helm/values-sidecars.yaml: every `sidecars` entry is a valid Container, every extra
 *   Service port a valid ServicePort;
 * - deploy/prometheus/monitors.yaml and prometheusrule.yaml validate against the Prometheus
 *   Operator schemas (@kubernetes-models/prometheus-operator) and the rule object carries
 *   exactly the rules of qmig-alerts.yaml;
 * - each sidecar's QMIG_* environment passes the real loadConfig and finds its peers through
 *   the headless Service the chart/operator creates.
 * Each check is also run on a broken copy, to prove it can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { Container, ServicePort } from 'kubernetes-models/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { loadConfig, VARIABLES } from '../../src/config/config.js';
import { crdValidator, strictValidateWith, type KindEntry, type Obj } from '../support/k8s-validate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODELS = join(ROOT, 'node_modules', 'kubernetes-models');
const PROM_MODELS = join(ROOT, 'node_modules', '@kubernetes-models', 'prometheus-operator', 'monitoring.coreos.com', 'v1');

const CONTAINER: KindEntry = { model: Container, dts: join(MODELS, 'v1', 'Container.d.ts') };
const SERVICE_PORT: KindEntry = { model: ServicePort, dts: join(MODELS, 'v1', 'ServicePort.d.ts') };
const PROM_KINDS: Record<string, KindEntry> = {
  PodMonitor: { model: PodMonitor, dts: join(PROM_MODELS, 'PodMonitor.d.ts') },
  ServiceMonitor: { model: ServiceMonitor, dts: join(PROM_MODELS, 'ServiceMonitor.d.ts') },
  PrometheusRule: { model: PrometheusRule, dts: join(PROM_MODELS, 'PrometheusRule.d.ts') },
};

function yamlDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => {
    assert.deepEqual(
      d.errors.map((e) => e.message),
      [],
      `${file}: YAML errors`,
    );
    return d.toJS() as Obj;
  });
}

const crdSchema = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/rabbitmq-cluster-operator/rabbitmqcluster-v1beta1.schema.json'), 'utf8')) as Obj;
const validateRabbitmqCluster = crdValidator(crdSchema);
const [rmq] = yamlDocs('deploy/operator/rabbitmqcluster.yaml');
const operatorSidecar = (doc: Obj): Obj => doc.spec.override.statefulSet.spec.template.spec.containers.find((c: Obj) => c.name === 'qmig');

/** The QMIG_* environment of a container; secret references become a placeholder value (long enough for QMIG_STATE_SECRET). */
function qmigEnv(container: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = e.value !== undefined ? String(e.value) : 'from-a-secret-'.padEnd(40, 'x');
  const known = new Set(Object.values(VARIABLES).map((v) => v.name));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is a qmig configuration variable`);
  return env;
}

function secretRef(container: Obj, name: string): Obj | undefined {
  return container.env.find((e: Obj) => e.name === name)?.valueFrom?.secretKeyRef;
}

test('RabbitmqCluster: valid against the cluster operator CRD schema; the sidecar is a valid Container', () => {
  assert.equal(rmq.apiVersion, 'rabbitmq.com/v1beta1');
  assert.equal(rmq.kind, 'RabbitmqCluster');
  assert.deepEqual(validateRabbitmqCluster(rmq), []);
  assert.doesNotThrow(() => strictValidateWith(CONTAINER, operatorSidecar(rmq), 'qmig container'));

  const broken: Array<[string, (d: Obj) => void, RegExp]> = [
    [
      'replicas as text',
      (d) => {
        d.spec.replicas = 'three';
      },
      /\/spec\/replicas must be integer/,
    ],
    [
      'typo in the override',
      (d) => {
        d.spec.override.statefulSet.spec.template.spec.containerz = [];
      },
      /must NOT have additional properties 'containerz'/,
    ],
    [
      'typo in the sidecar',
      (d) => {
        operatorSidecar(d).readinesProbe = {};
      },
      /additional properties 'readinesProbe'/,
    ],
    [
      'container without a name',
      (d) => {
        delete operatorSidecar(d).name;
      },
      /must have required property 'name'/,
    ],
    [
      'service port without a port',
      (d) => {
        delete d.spec.override.service.spec.ports[0].port;
      },
      /must have required property 'port'/,
    ],
    [
      'unknown spec field',
      (d) => {
        d.spec.sidecars = [];
      },
      /additional properties 'sidecars'/,
    ],
  ];
  for (const [label, breakIt, expected] of broken) {
    const copy = structuredClone(rmq);
    breakIt(copy);
    assert.match(validateRabbitmqCluster(copy).join('\n'), expected, label);
  }
  const c = structuredClone(operatorSidecar(rmq));
  c.securityContext.runAsNonRot = true;
  assert.throws(() => strictValidateWith(CONTAINER, c, 'qmig container'), /unknown field.*securityContext\/runAsNonRot/);
});

test('RabbitmqCluster: credentials from <name>-default-user, peers through <name>-nodes, 15680 on the Service', () => {
  const name = rmq.metadata.name;
  const qmig = operatorSidecar(rmq);
  assert.deepEqual(secretRef(qmig, 'QMIG_USER'), { name: `${name}-default-user`, key: 'username' });
  assert.deepEqual(secretRef(qmig, 'QMIG_PASSWORD'), { name: `${name}-default-user`, key: 'password' });
  assert.deepEqual(secretRef(qmig, 'QMIG_STATE_SECRET'), { name: 'qmig-state', key: 'state-secret' });
  const config = loadConfig(qmigEnv(qmig));
  assert.equal(config.peersDns, `${name}-nodes`, 'the operator headless Service');
  assert.equal(config.listenHost, '0.0.0.0');
  assert.equal(config.managementUrl.href, 'http://127.0.0.1:15672/');
  assert.deepEqual(qmig.args, ['serve']);
  assert.equal(qmig.ports[0].containerPort, config.listenPort);
  for (const probe of ['readinessProbe', 'livenessProbe']) assert.equal(qmig[probe].httpGet.path, '/healthz');
  const svcPort = rmq.spec.override.service.spec.ports.find((p: Obj) => p.name === 'qmig');
  assert.equal(svcPort.port, 15680);
  assert.equal(svcPort.targetPort, config.listenPort);
  assert.ok(rmq.spec.rabbitmq.additionalPlugins.includes('rabbitmq_shovel'));
  const volumes = new Set(rmq.spec.override.statefulSet.spec.template.spec.volumes.map((v: Obj) => v.name));
  for (const m of qmig.volumeMounts) assert.ok(volumes.has(m.name), `volume ${m.name}`);
  assert.equal(qmig.securityContext.readOnlyRootFilesystem, true);
});

test('Helm values: each sidecar is a valid Container, each extra port a valid ServicePort, a valid qmig environment', () => {
  const values = parseYaml(readFileSync(join(ROOT, 'deploy/helm/values-sidecars.yaml'), 'utf8')) as Obj;
  assert.equal(values.sidecars.length, 1);
  for (const c of values.sidecars) assert.doesNotThrow(() => strictValidateWith(CONTAINER, c, `sidecar ${c.name}`));
  for (const p of values.service.extraPorts) assert.doesNotThrow(() => strictValidateWith(SERVICE_PORT, p, `port ${p.name}`));
  const qmig = values.sidecars[0];
  const config = loadConfig(qmigEnv(qmig));
  assert.equal(config.peersDns, 'rabbitmq-headless');
  assert.deepEqual(secretRef(qmig, 'QMIG_PASSWORD'), { name: 'rabbitmq', key: 'rabbitmq-password' });
  assert.deepEqual(secretRef(qmig, 'QMIG_STATE_SECRET'), { name: 'qmig-state', key: 'state-secret' });
  assert.equal(qmig.env.find((e: Obj) => e.name === 'QMIG_USER').value, values.auth.username);
  assert.match(values.extraPlugins, /\brabbitmq_shovel\b/);
  assert.ok(values.extraVolumes.some((v: Obj) => v.name === qmig.volumeMounts[0].name));
  assert.equal(values.service.extraPorts[0].targetPort, config.listenPort);
  // Broken copies.
  const typo = structuredClone(qmig);
  typo.livenesProbe = typo.livenessProbe;
  assert.throws(() => strictValidateWith(CONTAINER, typo, 'sidecar'), /unknown field.*\/livenesProbe/);
  const badPort = structuredClone(values.service.extraPorts[0]);
  badPort.port = '15680x';
  assert.throws(() => strictValidateWith(SERVICE_PORT, badPort, 'port'), /port must be integer/);
});

test('PodMonitor, ServiceMonitor, PrometheusRule: valid Prometheus Operator objects; the rule carries qmig-alerts.yaml', () => {
  const objects = [...yamlDocs('deploy/prometheus/monitors.yaml'), ...yamlDocs('deploy/prometheus/prometheusrule.yaml')];
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['PodMonitor', 'PrometheusRule', 'ServiceMonitor']);
  for (const o of objects) assert.doesNotThrow(() => strictValidateWith(PROM_KINDS[o.kind], o), o.kind);
  const byKind = (k: string) => objects.find((o) => o.kind === k)!;
  assert.equal(byKind('PodMonitor').spec.podMetricsEndpoints[0].port, 'qmig');
  assert.equal(byKind('ServiceMonitor').spec.endpoints[0].port, 'qmig');
  for (const o of [byKind('PodMonitor').spec.podMetricsEndpoints[0], byKind('ServiceMonitor').spec.endpoints[0]]) {
    assert.equal(o.path, '/metrics');
    assert.ok(
      o.relabelings.some((r: Obj) => r.targetLabel === 'job' && r.replacement === 'qmig'),
      'job="qmig" as the alerts expect',
    );
  }
  const alerts = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/qmig-alerts.yaml'), 'utf8')) as Obj;
  assert.deepEqual(byKind('PrometheusRule').spec.groups, alerts.groups, 'prometheusrule.yaml = qmig-alerts.yaml');
  // Broken copies.
  const pm = structuredClone(byKind('PodMonitor'));
  pm.spec.podMetricsEndpoint = pm.spec.podMetricsEndpoints;
  assert.throws(() => strictValidateWith(PROM_KINDS.PodMonitor, pm), /unknown field.*\/spec\/podMetricsEndpoint\b/);
  const rule = structuredClone(byKind('PrometheusRule'));
  delete rule.spec.groups[0].name;
  assert.throws(() => strictValidateWith(PROM_KINDS.PrometheusRule, rule), /name/);
  const sm = structuredClone(byKind('ServiceMonitor'));
  sm.spec.endpoints[0].interval = 30;
  assert.throws(() => strictValidateWith(PROM_KINDS.ServiceMonitor, sm), /interval/);
});
