import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlowFileError, loadFlows, parseFlow } from '../../src/engine/load.js';
import { matchCommand, matchOption, normalize } from '../../src/engine/match.js';
import { projectRoot } from '../../src/local/paths.js';

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

describe('translations (flows/i18n)', () => {
  /** Loads the shipped flows from a scratch copy changed by `change` (given the copy's i18n folder). */
  function loadChanged(change: (i18n: string) => void) {
    const dir = mkdtempSync(join(tmpdir(), 'flows-'));
    try {
      cpSync(join(projectRoot, 'flows'), dir, { recursive: true });
      change(join(dir, 'i18n'));
      return loadFlows(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const edit = (file: string, fn: (text: string) => string) => (i18n: string) => writeFileSync(join(i18n, file), fn(readFileSync(join(i18n, file), 'utf8')));

  it('every shipped flow version 2 is offered in Vietnamese and English', () => {
    const flows = loadFlows(join(projectRoot, 'flows'));
    for (const key of ['citizen-satisfaction@2', 'agency-opinion@2']) expect([...flows.get(key).variants.keys()]).toEqual(['vi', 'en']);
  });

  it('a missing key, a stray key or a lost placeholder fails with the file and the key', () => {
    expect(() => loadChanged(edit('citizen-satisfaction.v2.en.yaml', (t) => t.replace(/^ {2}officer_listening:.*\n/m, '')))).toThrow(
      /citizen-satisfaction\.v2\.en\.yaml:\n\s+- questions\.officer_listening\.text: missing translation/,
    );
    expect(() => loadChanged(edit('citizen-satisfaction.v2.en.yaml', (t) => t.replace('  proc_fees:', '  proc_feez:')))).toThrow(
      /questions\.proc_feez\.text: not a text of the source/,
    );
    expect(() =>
      loadChanged(edit('agency-opinion.v2.en.yaml', (t) => t.replace("area_publicity: { text: '{unitName}: ", "area_publicity: { text: 'The unit: "))),
    ).toThrow(/questions\.area_publicity\.text: must keep the placeholders \{unitName\}/);
    expect(() => loadChanged(edit('engine.en.yaml', (t) => t.replace(/^stopLabel:.*\n/m, '')))).toThrow(
      /engine\.en\.yaml:\n\s+- stopLabel: missing translation/,
    );
  });

  it('a translation needs the engine in its language; with it, a new language is just files', () => {
    const km = (i18n: string) => cpSync(join(i18n, 'agency-opinion.v2.en.yaml'), join(i18n, 'agency-opinion.v2.km.yaml'));
    expect(() => loadChanged(km)).toThrow(/the engine has no km translation: add flows\/i18n\/engine\.km\.yaml/);
    const flows = loadChanged((i18n) => {
      km(i18n);
      cpSync(join(i18n, 'engine.en.yaml'), join(i18n, 'engine.km.yaml'));
    });
    expect([...flows.get('agency-opinion@2').variants.keys()]).toEqual(['vi', 'en', 'km']);
  });
});

describe('flow content hashes', () => {
  it('stay what they were when responses first referenced them, though the schema grew new defaulted fields', () => {
    // Recorded by the service before options could be `excluded` and choices `optional`: a deployment with
    // responses to these versions must start after the upgrade.
    const flows = loadFlows(join(projectRoot, 'flows'));
    expect(flows.get('citizen-satisfaction@1').hash).toBe('9072edbd5fc0db3aefa7c14c9e9e3d66b3a830b962efa164ffc148d42259face');
    expect(flows.get('agency-opinion@1').hash).toBe('a448efbbb82a50e2876243cd7c79d6de5770938eafde8e1f911b70fca4913c56');
  });
});
