import { describe, expect, it } from 'vitest';
import { agree, alignCommitted, commitAll, committedCut, commitTentative, emptyAgreement, heardPrefix, lastCommittedSegmentEnd, windowTrimmed, type AgreementState } from './agreement.js';
import { joinWords, type Word } from './hypothesis.js';

/** Words with 0.5 s each from `from` s; a trailing '|' marks a closed segment end. */
function hyp(text: string, from = 0): Word[] {
  return text.split(' ').filter(Boolean).map((t, i) => {
    const closed = t.endsWith('|');
    const start = from + i * 0.5;
    return { text: closed ? t.slice(0, -1) : t, start, end: start + 0.5, ...(closed ? { segmentEnd: start + 0.5 } : {}) };
  });
}

const texts = (s: AgreementState) => [joinWords(s.committed), joinWords(s.tentative)];

describe('LocalAgreement-2', () => {
  it('commits the common prefix of two consecutive hypotheses, and nothing from one alone', () => {
    let step = agree(emptyAgreement, hyp('and so my'));
    expect(step.committedNow).toEqual([]);
    expect(texts(step.state)).toEqual(['', 'and so my']);
    step = agree(step.state, hyp('And so, my fellow'));
    expect(joinWords(step.committedNow)).toBe('And so, my');
    expect(texts(step.state)).toEqual(['And so, my', 'fellow']);
    step = agree(step.state, hyp('and so my fellow Americans'));
    expect(texts(step.state)).toEqual(['And so, my fellow', 'Americans']);
  });

  it('stops at the first disagreement', () => {
    const a = agree(emptyAgreement, hyp('ask not what'));
    const b = agree(a.state, hyp('ask knot what your'));
    expect(texts(b.state)).toEqual(['ask', 'knot what your']);
  });

  it('never changes committed words, whatever later hypotheses say', () => {
    let state = agree(agree(emptyAgreement, hyp('one two three')).state, hyp('one two three four')).state;
    const before = joinWords(state.committed);
    for (const h of ['one two tree four five', 'won two three four five six', '', 'one two three four five six seven']) {
      state = agree(state, hyp(h)).state;
      expect(joinWords(state.committed).startsWith(before)).toBe(true);
    }
    // The empty hypothesis left nothing tentative, so 'six' still needs a second vote.
    expect(joinWords(state.committed)).toBe('one two three four five');
  });

  it('aligns away committed words the window hears again, even when the model rewords them', () => {
    let state = agree(agree(emptyAgreement, hyp('the cabbage juice')).state, hyp('the cabbage juice changes')).state;
    expect(alignCommitted(state, hyp('the cabbage juice changes color'))).toBe(3);
    expect(alignCommitted(state, hyp('a cabbage juice changes color'))).toBe(3);
    expect(alignCommitted(state, hyp('cabbage juice changes color'))).toBe(2);
    state = agree(state, hyp('A cabbage juice changes color')).state;
    expect(texts(state)).toEqual(['the cabbage juice changes', 'color']);
  });

  it('aligns away re-heard committed words that the model rewrote at their end, by the n-gram before them', () => {
    // Committed in the window: "is recorded by Lord Byron." (times 0-2.5 s); the next decode hears
    // them as "is recorded by board fire." and at times that are off, then the new words.
    const state = commitAll(emptyAgreement, hyp('is recorded by Lord Byron.')).state;
    const next = hyp('is recorded by board fire. I\'m from the cutter', 0.6);
    expect(alignCommitted(state, next)).toBe(5);
    expect(joinWords(agree(state, next).state.tentative)).toBe("I'm from the cutter");
    // Heard again exactly: the prefix, as before.
    expect(alignCommitted(state, hyp('is recorded by Lord Byron. I\'m from the cutter'))).toBe(5);
  });

  it('commitAll commits the whole remainder (utterance end, finalize, end)', () => {
    const a = agree(emptyAgreement, hyp('ask not'));
    const b = commitAll(a.state, hyp('ask not what your country'));
    expect(texts(b.state)).toEqual(['ask not what your country', '']);
  });

  it('tracks what is still inside the window as it is trimmed at committed segment ends', () => {
    let state = agree(emptyAgreement, hyp('ask not| what your country|')).state;
    state = agree(state, hyp('ask not| what your country| can')).state;
    expect(state.inWindow).toBe(5);
    expect(lastCommittedSegmentEnd(state)).toBe(2.5);
    state = windowTrimmed(state, 1);
    expect(state.inWindow).toBe(3);
    // The next decode hears only the words after the cut.
    state = agree(state, hyp('what your country can do', 1)).state;
    expect(texts(state)).toEqual(['ask not what your country can', 'do']);
    state = windowTrimmed(state, 2.5);
    expect(state.inWindow).toBe(1);
    expect(lastCommittedSegmentEnd(state)).toBeUndefined();
  });

  it('keeps context: the cut is the last committed segment end at least that far back, and the re-heard context is aligned away', () => {
    let state = agree(emptyAgreement, hyp('and so| my fellow| Americans|')).state;
    state = agree(state, hyp('and so| my fellow| Americans| ask')).state;
    expect(texts(state)).toEqual(['and so my fellow Americans', 'ask']);
    // Segment ends at 1, 2 and 2.5 s; a window decoded to 4 s keeping 2.5 s of context may start at 1 s at the latest.
    expect(lastCommittedSegmentEnd(state, 4 - 2.5)).toBe(1);
    expect(lastCommittedSegmentEnd(state, 0.5)).toBeUndefined();
    state = windowTrimmed(state, 1);
    expect(state.inWindow).toBe(3);
    // The next decode re-hears "my fellow Americans" (written differently) before the new words.
    state = agree(state, hyp('my fellow Americans, ask not', 1)).state;
    state = agree(state, hyp('my fellow Americans ask not what', 1)).state;
    expect(texts(state)).toEqual(['and so my fellow Americans ask not', 'what']);
  });

  it('cuts inside the last committed word, so the next decode re-hears only its tail, which is aligned away', () => {
    expect(committedCut(emptyAgreement, 0.25)).toBeUndefined();
    let state = agree(emptyAgreement, hyp('ask not what your')).state;
    state = agree(state, hyp('ask not what your country')).state;
    expect(texts(state)).toEqual(['ask not what your', 'country']);
    const cut = committedCut(state, 0.25)!;
    expect(cut).toBe(1.75); // "your" is 1.5-2.0 s
    state = windowTrimmed(state, cut);
    expect(state.inWindow).toBe(1);
    // The next window starts inside "your": Whisper may hear it again, or only a piece of it.
    expect(texts(agree(state, hyp('your country can', cut)).state)).toEqual(['ask not what your country', 'can']);
    expect(texts(agree(state, hyp('or country can', 1.7)).state)).toEqual(['ask not what your country', 'can']);
    // A committed segment end later than the word's inside point wins.
    const closed = agree(agree(emptyAgreement, hyp('ask not|')).state, hyp('ask not| what')).state;
    expect(committedCut(closed, 0.25)).toBe(1);
  });

  it('holds back the last word of a window until a decode hears what follows, unless its segment closed', () => {
    const a = agree(emptyAgreement, hyp('and so my fellow americans.')).state;
    const b = agree(a, hyp('and so my fellow americans.'));
    expect(texts(b.state)).toEqual(['and so my fellow', 'americans.']);
    expect(texts(agree(b.state, hyp('and so my fellow americans, ask')).state)).toEqual(['and so my fellow americans,', 'ask']);
    const closed = agree(agree(emptyAgreement, hyp('ask not|')).state, hyp('ask not|'));
    expect(texts(closed.state)).toEqual(['ask not', '']);
  });

  it('LocalAgreement-3 waits for a third hypothesis, so a slip two decodes repeat is not committed', () => {
    const a = agree(emptyAgreement, hyp('and so my fellow americans asked not'), 3).state;
    const b = agree(a, hyp('and so my fellow americans asked not why'), 3).state;
    expect(texts(b)).toEqual(['', 'and so my fellow americans asked not why']);
    const c = agree(b, hyp('and so my fellow americans ask not what your'), 3);
    expect(texts(c.state)).toEqual(['and so my fellow americans', 'ask not what your']);
    // After a commit the older hypothesis keeps only what follows the committed words.
    expect(c.state.older!.map((w) => w.text)).toEqual(['asked', 'not', 'why']);
    const d = agree(c.state, hyp('and so my fellow americans ask not what your country'), 3).state;
    expect(texts(d)).toEqual(['and so my fellow americans', 'ask not what your country']);
    const e = agree(d, hyp('and so my fellow americans ask not what your country can'), 3).state;
    expect(texts(e)).toEqual(['and so my fellow americans ask not what your', 'country can']);
  });

  it('a later decode that joins the last committed word to the next one ("25" then "25-30") adds only the new part', () => {
    // FLEURS fleurs-en-000 streamed: "lag behind by 25" committed, then a window heard "by 25-30 years".
    let state = agree(agree(emptyAgreement, hyp('lag behind by 25 to')).state, hyp('lag behind by 25 to')).state;
    expect(texts(state)).toEqual(['lag behind by 25', 'to']);
    const joined: Word[] = [...hyp('lag behind by'), { text: '25-30', start: 1.5, end: 2.6 }, { text: 'years.', start: 2.6, end: 3.1, segmentEnd: 3.1 }];
    state = commitAll(state, joined).state;
    expect(joinWords(state.committed)).toBe('lag behind by 25 30 years.');
    expect(state.committed.at(-2)!.start).toBeGreaterThanOrEqual(state.committed.at(-3)!.end);
    // Words that merely start like the committed one are left alone.
    const other = commitAll(agree(agree(emptyAgreement, hyp('a well done')).state, hyp('a well done')).state, [...hyp('a'), { text: 'wellington', start: 0.8, end: 1.6 }]).state;
    expect(joinWords(other.committed)).toBe('a well wellington');
  });
});

/** Words of `hyp` with the times (s) the model listened at while writing each (AlignAtt). */
const attending = (text: string, attended: number[], from = 0): Word[] => hyp(text, from).map((w, i) => ({ ...w, attended: attended[i]! }));

describe('AlignAtt beside LocalAgreement', () => {
  it('commits on one decode the leading words the model wrote while listening before the margin', () => {
    // jfk.wav's first 6 s as the engine decodes them: the last words guess past what was heard.
    const words = attending('And so my fellow Americans ask not what you are coming to.', [0.38, 0.7, 1.06, 1.5, 1.66, 3.28, 4.04, 5.4, 5.68, 5.78, 5.96, 4.8]);
    const step = agree(emptyAgreement, words, 2, 6 - 0.5);
    // 'what' was heard (5.4 s) but is the run's last word: the model may not have heard its end.
    expect(joinWords(step.committedNow)).toBe('And so my fellow Americans ask not');
    expect(joinWords(step.state.tentative)).toBe('what you are coming to.');
    // The next decode commits what it heard past the committed words, once.
    const next = agree(step.state, attending('And so my fellow Americans ask not what your country can', [0.4, 0.68, 1.06, 1.5, 1.66, 3.66, 4.04, 5.4, 5.68, 6.18, 6.52]), 2, 7 - 0.5);
    expect(joinWords(next.committedNow)).toBe('what your');
  });

  it('without heardUntil it is LocalAgreement alone: nothing from one decode', () => {
    expect(agree(emptyAgreement, attending('ask not what', [0.5, 1, 1.5])).committedNow).toEqual([]);
  });

  it('stops at a word without an attention time, past the limit, or far behind the words before it', () => {
    expect(heardPrefix(attending('a b c d', [1, 2, 2.4, 3]), 2.5)).toBe(2);
    expect(heardPrefix(hyp('a b c'), 10)).toBe(0);
    expect(heardPrefix(attending('a b c d e', [1, 2, 4, 2.5, 2]), 5)).toBe(2);
    expect(heardPrefix([], 5)).toBe(0);
  });

  it('leaves out the run\'s last word unless it closes a segment', () => {
    expect(heardPrefix(attending('a b c', [1, 2, 3]), 2.5)).toBe(1);
    expect(heardPrefix(attending('a b| c', [1, 2, 3]), 2.5)).toBe(2);
  });

  it('never commits less than LocalAgreement would', () => {
    const first = agree(emptyAgreement, attending('one two three four', [0.2, 0.7, 1.2, 1.7]), 2, 0.1);
    expect(first.committedNow).toEqual([]);
    const second = agree(first.state, attending('one two three four five', [0.2, 0.7, 1.2, 1.7, 2.2]), 2, 0.1);
    expect(joinWords(second.committedNow)).toBe('one two three four');
  });
});

describe('commitTentative', () => {
  it('commits the tentative words centred before the point, as a flush decode of the same audio would', () => {
    const state = agree(agree(emptyAgreement, hyp('one two')).state, hyp('one two three four five')).state;
    expect(texts(state)).toEqual(['one two', 'three four five']);
    // 'four' lies at 1.5-2 s: centred before 2.1, 'five' (2-2.5) is not.
    const step = commitTentative(state, 2.1);
    expect(joinWords(step.committedNow)).toBe('three four');
    expect(texts(step.state)).toEqual(['one two three four', 'five']);
    expect(step.state.inWindow).toBe(state.inWindow + 2);
    expect(commitTentative(step.state, 0.5).committedNow).toEqual([]);
  });
});
