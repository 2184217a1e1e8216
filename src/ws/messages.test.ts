import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { parseClientText } from './messages.js';

function codeOf(text: string): string | undefined {
  try {
    parseClientText(text);
    return undefined;
  } catch (err) {
    return (err as AppError).code;
  }
}

describe('parseClientText', () => {
  it('accepts the brief\'s messages and ours, ignoring unknown config fields', () => {
    expect(parseClientText('{"type":"config","language":"en","detect_language":false,"extra":1}')).toEqual({ type: 'config', language: 'en', detect_language: false });
    expect(parseClientText('{"type":"end"}')).toEqual({ type: 'end' });
    expect(parseClientText('{"type":"finalize"}')).toEqual({ type: 'finalize' });
    expect(parseClientText('{"type":"keepalive"}')).toEqual({ type: 'keepalive' });
    expect(parseClientText('{"type":"config","language":null,"sample_rate":8000,"task":"translate","word_timestamps":true,"interim_results":false,"endpointing_ms":500}'))
      .toMatchObject({ language: null, sample_rate: 8000, task: 'translate' });
  });

  it('gives each bad frame its code', () => {
    expect(codeOf('not json')).toBe('invalid_message');
    expect(codeOf('[]')).toBe('invalid_message');
    expect(codeOf('"end"')).toBe('invalid_message');
    expect(codeOf('{"kind":"end"}')).toBe('invalid_message');
    expect(codeOf('{"type":"start"}')).toBe('unknown_message_type');
    expect(codeOf('{"type":"config","sample_rate":7999}')).toBe('invalid_config');
    expect(codeOf('{"type":"config","sample_rate":48001}')).toBe('invalid_config');
    expect(codeOf('{"type":"config","sample_rate":16000.5}')).toBe('invalid_config');
    expect(codeOf('{"type":"config","task":"summarise"}')).toBe('invalid_config');
    expect(codeOf('{"type":"config","language":"English"}')).toBe('invalid_config');
    expect(codeOf('{"type":"config","detect_language":"yes"}')).toBe('invalid_config');
  });
});
