/**
 * Registers tfjs-core's gradient functions.
 *
 * tfjs-core ships its gradients as separate ES modules (`dist/register_all_gradients.js`)
 * that plain Node cannot import (extensionless relative imports, no `"type": "module"`).
 * The build bundles that entry into `dist/backend/tfjs-gradients.js` with esbuild
 * (scripts/build.mjs); the test runner maps this import to the original file. Either way,
 * importing this module once makes `tf.grad`, `tf.variableGrads` and friends work.
 */
import './tfjs-gradients.js'
