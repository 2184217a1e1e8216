/**
 * @module Whether ffmpeg is here for the tests that decode files with it (every upload goes
 * through ffmpeg, and some tests make their fixtures with it). The README calls ffmpeg optional, so
 * without it those tests are skipped, with one line saying why, instead of failing `npm test`.
 * .ci/run installs it, so CI runs them. FFMPEG_PATH points elsewhere, as for the server.
 */
import { probeFfmpeg } from '../../src/audio/ffmpeg.js';

const probe = probeFfmpeg(process.env.FFMPEG_PATH || 'ffmpeg');

/** True when ffmpeg cannot be run: use with describe.skipIf / it.skipIf. */
export const NO_FFMPEG = !probe.ok;

if (!probe.ok) console.warn(`ffmpeg is missing (${probe.reason}): the tests that need it are skipped; install it (apt-get install ffmpeg) to run them`);
