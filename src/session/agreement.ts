/**
 * @module When words become committed. LocalAgreement-2 (Macháček et al., whisper_streaming): a
 * word is committed once two consecutive hypotheses of the growing window agree on it and on
 * everything before it; with AlignAtt beside it (heardPrefix), also on its first decode once the
 * model wrote it listening far enough before the window's end. Committed words never change. Each
 * hypothesis re-hears the committed words still inside the window; they are aligned away first, so
 * only the words after them take part. Pure.
 */
import { normalizeWord, type Word } from './hypothesis.js';

export interface AgreementState {
  /** Every committed word of the session, in order. */
  readonly committed: readonly Word[];
  /** How many of the last committed words lie inside the current window (a decode hears them again). */
  readonly inWindow: number;
  /** The previous hypothesis after its committed part: the tentative words. */
  readonly tentative: readonly Word[];
  /** The hypothesis before that, after the same committed part (LocalAgreement-3 compares with it too). */
  readonly older?: readonly Word[];
}

export const emptyAgreement: AgreementState = { committed: [], inWindow: 0, tentative: [], older: [] };

/** The result of feeding one hypothesis. */
export interface AgreementStep {
  state: AgreementState;
  /** Words committed by this step. */
  committedNow: Word[];
}

/** Leading words two hypotheses share (normalised). */
function sharedPrefix(a: readonly Word[], b: readonly Word[]): number {
  let k = 0;
  while (k < a.length && k < b.length && normalizeWord(a[k]!.text) === normalizeWord(b[k]!.text)) k++;
  return k;
}

/**
 * Feed the hypothesis of the current window; commit what it shares with the previous one
 * (`n` = 2), or with the previous two (`n` = 3: one more decode per word, but a short window's
 * greedy slip that two consecutive decodes repeat, e.g. "asked not" for "ask not" at 4.5 and 5.5 s
 * of jfk.wav, is not committed). With `heardUntil` (AlignAtt, see heardPrefix) the words the model
 * had heard whole are committed too, on their first decode.
 */
export function agree(state: AgreementState, hypothesis: readonly Word[], n: 2 | 3 = 2, heardUntil?: number): AgreementStep {
  const fresh = freshWords(state, hypothesis);
  let k = sharedPrefix(fresh, state.tentative);
  if (n === 3) k = Math.min(k, sharedPrefix(fresh, state.older ?? []));
  // The last word of a window is written as if the text ended there ("Americans." where the whole
  // sentence reads "Americans, ask not"), and that period then capitalises the next decode's first
  // word through the prompt. Hold it back until a decode hears what follows, unless Whisper closed
  // its segment before the window's end (a pause: the punctuation is heard, not guessed).
  if (k > 0 && k === fresh.length && fresh[k - 1]!.segmentEnd === undefined) k -= 1;
  if (heardUntil !== undefined) k = Math.max(k, heardPrefix(fresh, heardUntil));
  return commit(state, fresh, k);
}

/** How far back (s) a word's attention may fall behind the words before it and still count as in order. */
const ATTENDED_SLACK_S = 1.0;

/**
 * AlignAtt (Papi et al. 2023; SimulStreaming): leading words the model wrote while listening at or
 * before `heardUntil` (the window's end less a margin): audio after them was heard, so one decode
 * is enough. The run stops at the first word without an attention time, attending past that
 * point, or attending far behind the words before it (a word the model wrote without listening to
 * it). The last word of the run is left out unless it closes a segment: the model may not have
 * heard its end ("America" written for the "Americans" a window cuts in two); the word after it
 * being heard says it was. Punctuation is a token of its word and attends to what follows it
 * ("Americans," listens to "ask"), so a sentence end at the window's edge waits for that audio.
 */
export function heardPrefix(words: readonly Word[], heardUntil: number): number {
  let k = 0;
  let latest = Number.NEGATIVE_INFINITY;
  for (const word of words) {
    const at = word.attended;
    if (at === undefined || at > heardUntil || at < latest - ATTENDED_SLACK_S) break;
    latest = Math.max(latest, at);
    k++;
  }
  return k > 0 && words[k - 1]!.segmentEnd === undefined ? k - 1 : k;
}

/** Commit everything the hypothesis adds after the committed words (utterance end, finalize, end). */
export function commitAll(state: AgreementState, hypothesis: readonly Word[]): AgreementStep {
  const fresh = freshWords(state, hypothesis);
  const step = commit(state, fresh, fresh.length);
  return { ...step, state: { ...step.state, older: [] } };
}

/**
 * Commit the tentative words centred before `until` s: what a flush decode of the same audio would
 * commit, for an utterance end that the last decode heard whole already (session.ts).
 */
export function commitTentative(state: AgreementState, until: number): AgreementStep {
  let k = 0;
  while (k < state.tentative.length && (state.tentative[k]!.start + state.tentative[k]!.end) / 2 < until) k++;
  const step = commit(state, state.tentative.slice(), k);
  return { ...step, state: { ...step.state, older: [] } };
}

/** The window now starts at `windowStart` s: committed words that end before it are no longer heard. */
export function windowTrimmed(state: AgreementState, windowStart: number): AgreementState {
  const first = state.committed.length - state.inWindow;
  let drop = 0;
  while (drop < state.inWindow && state.committed[first + drop]!.end <= windowStart + 0.01) drop++;
  return { ...state, inWindow: state.inWindow - drop, tentative: state.tentative.filter((w) => w.end > windowStart), older: (state.older ?? []).filter((w) => w.end > windowStart) };
}

/**
 * The latest point (s) where the window can be cut without cutting a committed segment: the end of
 * the last committed segment inside it, or of the last one that ends by `notAfter` s.
 */
export function lastCommittedSegmentEnd(state: AgreementState, notAfter = Number.POSITIVE_INFINITY): number | undefined {
  const first = state.committed.length - state.inWindow;
  for (let i = state.committed.length - 1; i >= first; i--) {
    const end = state.committed[i]!.segmentEnd;
    if (end !== undefined && end <= notAfter) return end;
  }
  return undefined;
}

/**
 * Where the window may start so that a decode hears (almost) no committed words again: inside the
 * last committed word, `backoff` s before its end (never before its start), or the last committed
 * segment end if that is later. The committed text before it becomes the prompt. Undefined when
 * no committed word is in the window.
 */
export function committedCut(state: AgreementState, backoff: number): number | undefined {
  if (state.inWindow === 0) return undefined;
  const last = state.committed[state.committed.length - 1]!;
  const inside = Math.max(last.start, last.end - backoff);
  const segment = lastCommittedSegmentEnd(state);
  return segment !== undefined && segment > inside ? segment : inside;
}

/** The first position p in [lo, hi] (clamped to the hypothesis) where `gram` stands in `h`; -1 if none. */
function findGram(h: readonly string[], gram: readonly string[], lo: number, hi: number): number {
  for (let p = Math.max(0, lo); p <= Math.min(h.length - gram.length, hi); p++) {
    if (gram.every((word, i) => h[p + i] === word)) return p;
  }
  return -1;
}

function commit(state: AgreementState, fresh: Word[], k: number): AgreementStep {
  const committedNow = fresh.slice(0, k);
  return {
    state: { committed: [...state.committed, ...committedNow], inWindow: state.inWindow + k, tentative: fresh.slice(k), older: state.tentative.slice(k) },
    committedNow,
  };
}

/**
 * The hypothesis after the committed words it hears again. A later decode may write the last
 * committed word joined to the next one ("25" committed, then "25-30"): that word keeps only the
 * part after the committed one ("30"), instead of coming out twice ("25 25-30").
 */
export function freshWords(state: AgreementState, hypothesis: readonly Word[]): Word[] {
  const k = alignCommitted(state, hypothesis);
  const fresh = hypothesis.slice(k);
  const last = state.inWindow > 0 ? state.committed[state.committed.length - 1] : undefined;
  const first = fresh[0];
  if (!last || !first || first.start >= last.end) return fresh;
  const head = last.text.replace(/[^\p{L}\p{N}]+$/u, '');
  const joined = first.text.match(/^(.+?)[-\u2010-\u2015/](.+)$/u);
  if (!head || !joined || normalizeWord(joined[1]!) !== normalizeWord(head)) return fresh;
  return [{ ...first, text: joined[2]!, start: Math.max(first.start, last.end) }, ...fresh.slice(1)];
}

/**
 * How many leading words of the hypothesis are the committed words still in the window. Exact
 * prefix first; else the longest tail n-gram (5..1) of those words found near the start; else an
 * n-gram (5..2) from further back, the words after it taken as re-heard one for one (the model
 * rewrote the last committed words: "Lord Byron." heard again as "board fire."); else by time
 * (words centred before the last committed word's end).
 */
export function alignCommitted(state: AgreementState, hypothesis: readonly Word[]): number {
  const heard = state.committed.slice(state.committed.length - state.inWindow);
  if (heard.length === 0) return 0;
  const h = hypothesis.map((w) => normalizeWord(w.text));
  const c = heard.map((w) => normalizeWord(w.text));
  if (c.every((word, i) => h[i] === word)) return c.length;
  for (let m = Math.min(5, c.length); m >= 1; m--) {
    const p = findGram(h, c.slice(c.length - m), c.length - m - 3, c.length + 2);
    if (p !== -1) return p + m;
  }
  for (let m = Math.min(5, c.length - 1); m >= 2; m--) {
    for (let from = c.length - m - 1; from >= 0; from--) {
      const p = findGram(h, c.slice(from, from + m), from - 3, from + 3);
      if (p === -1) continue;
      // The words after it are taken as re-heard, but not one that the model joined to the next
      // word ("25" committed, "25-30" heard): freshWords keeps its new part.
      let k = p + m;
      for (let j = from + m; j < c.length && k < h.length; j++, k++) {
        if (h[k]!.length > c[j]!.length && h[k]!.startsWith(c[j]!)) break;
      }
      return k;
    }
  }
  const lastEnd = heard[heard.length - 1]!.end;
  let n = 0;
  while (n < hypothesis.length && (hypothesis[n]!.start + hypothesis[n]!.end) / 2 < lastEnd) n++;
  return n;
}
