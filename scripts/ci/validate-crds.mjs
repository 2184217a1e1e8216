#!/usr/bin/env node
// Validates the custom resources in rendered manifests (KEDA ScaledObject, prometheus-operator
// ServiceMonitor, Gateway API HTTPRoute) against their CRDs' OpenAPI schemas, with the
// @kubernetes-models packages that scripts/ci/setup-deploy-tools.sh installs into
// .cache/deploy-tools/node. kubernetes-validate covers the built-in kinds; it has no CRD schemas.
//
//   node scripts/ci/validate-crds.mjs rendered.yaml [...]
// One line per object ("ok KIND/NAME" or "FAIL KIND/NAME: why"), then "N checked, N failed";
// exit 1 when any failed, 2 when the tools are missing.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modules = path.join(root, '.cache', 'deploy-tools', 'node', 'node_modules');
if (!existsSync(path.join(modules, '@kubernetes-models', 'keda'))) {
  console.error(`missing ${modules}/@kubernetes-models: run scripts/ci/setup-deploy-tools.sh`);
  process.exit(2);
}
const load = async (file) => import(pathToFileURL(path.join(modules, file)).href);

const { parseAllDocuments } = await load('yaml/dist/index.js');
const models = {
  'keda.sh/v1alpha1/ScaledObject': (await load('@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.js')).ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': (await load('@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication.js')).TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': (await load('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js')).ServiceMonitor,
  'gateway.networking.k8s.io/v1/HTTPRoute': (await load('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute.js')).HTTPRoute,
};

let checked = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS();
    const Model = obj && models[`${obj.apiVersion}/${obj.kind}`];
    if (!Model) continue;
    checked += 1;
    const id = `${obj.kind}/${obj.metadata?.name}`;
    try {
      new Model(obj).validate();
      console.log(`ok   ${id}`);
    } catch (err) {
      failed += 1;
      const details = err?.details ? ` ${JSON.stringify(err.details)}` : '';
      console.log(`FAIL ${id}: ${String(err?.message ?? err).split('\n')[0]}${details}`);
    }
  }
}
console.log(`${checked} checked, ${failed} failed`);
process.exit(failed ? 1 : 0);
