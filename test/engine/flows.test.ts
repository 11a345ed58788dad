import { describe, expect, it } from 'vitest';
import { FlowFileError, parseFlow } from '../../src/engine/load.js';
import { matchCommand, matchOption, normalize } from '../../src/engine/match.js';

describe('flow files', () => {
  it('an invalid file fails with the file, the path inside it and the reason', () => {
    const src = `
id: broken
version: 2
title: T
thankYou: bye
questions:
  - { id: a, type: choice, scale: nope, text: "A?" }
  - { id: a, type: text, text: "again" }
  - { id: c, type: text, text: "C", when: { question: later, in: [1] } }
  - { id: later, type: yesno, text: "L" }
`;
    let err: unknown;
    try {
      parseFlow('flows/broken.v2.yaml', src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlowFileError);
    const msg = (err as Error).message;
    expect(msg).toContain('flows/broken.v2.yaml');
    expect(msg).toContain('questions.0.scale: unknown scale "nope"');
    expect(msg).toContain('questions.1.id: duplicate question id "a"');
    expect(msg).toContain('questions.2.when: condition refers to "later", which is not an earlier question');
  });

  it('the file name must say the id and version', () => {
    expect(() => parseFlow('flows/x.yaml', 'id: ok\nversion: 1\ntitle: T\nthankYou: t\nquestions: [{id: a, type: info, text: hi}]')).toThrow(
      /file name must be ok.v1.yaml/,
    );
  });

  it('reports YAML syntax errors with the file', () => {
    expect(() => parseFlow('flows/bad.v1.yaml', 'id: [unclosed')).toThrow(/flows\/bad.v1.yaml:\n.*not valid YAML/);
  });
});

describe('answer matching', () => {
  const scale = ['Rất không hài lòng', 'Không hài lòng', 'Bình thường', 'Hài lòng', 'Rất hài lòng'].map((label, i) => ({ value: i + 1, label, aliases: [] }));

  it('accepts numbers, labels with or without diacritics, any case, NFC or NFD, extra spaces', () => {
    expect(matchOption(scale, '5')).toBe(5);
    expect(matchOption(scale, ' rat hai long ')).toBe(5);
    expect(matchOption(scale, 'RẤT  HÀI LÒNG!')).toBe(5);
    expect(matchOption(scale, 'Rất hài lòng'.normalize('NFD'))).toBe(5);
    expect(matchOption(scale, 'khong hai long')).toBe(2);
    expect(matchOption(scale, 'rat khong hai long')).toBe(1);
  });

  it('refuses what is not an option', () => {
    expect(matchOption(scale, '6')).toBeUndefined();
    expect(matchOption(scale, '0')).toBeUndefined();
    expect(matchOption(scale, 'tuyệt vời')).toBeUndefined();
  });

  it('knows commands; bare words are not commands in free text', () => {
    expect(matchCommand('Quay lại', false)).toBe('back');
    expect(matchCommand('/stop@tthc_bot', true)).toBe('stop');
    expect(matchCommand('dừng', true)).toBeUndefined();
    expect(matchCommand('bỏ qua', true)).toBe('skip');
    expect(normalize('Đường  ĐI')).toBe('duong di');
  });
});
