import { describe, expect, it } from 'vitest';
import { outsideQuietHours, reminderTimes, utcOffsetMinutes } from '../../src/invitations/schedule.js';

const TZ = 'Asia/Ho_Chi_Minh';
const QUIET = { from: '21:00', to: '07:00' };
/** An instant given as Vietnam local time. */
const vn = (iso: string) => Date.parse(`${iso}+07:00`);

describe('reminder timing', () => {
  it('knows the campaign time zone offset', () => {
    expect(utcOffsetMinutes(TZ, vn('2024-06-12T10:00:00'))).toBe(420);
  });

  it('keeps a daytime reminder where it is', () => {
    expect(outsideQuietHours(vn('2024-06-12T15:30:00'), TZ, QUIET)).toBe(vn('2024-06-12T15:30:00'));
    expect(outsideQuietHours(vn('2024-06-12T20:59:00'), TZ, QUIET)).toBe(vn('2024-06-12T20:59:00'));
  });

  it('moves a reminder inside 21:00-07:00 to 07:00 the next morning', () => {
    expect(outsideQuietHours(vn('2024-06-12T21:00:00'), TZ, QUIET)).toBe(vn('2024-06-13T07:00:00'));
    expect(outsideQuietHours(vn('2024-06-12T23:45:00'), TZ, QUIET)).toBe(vn('2024-06-13T07:00:00'));
    expect(outsideQuietHours(vn('2024-06-13T03:10:00'), TZ, QUIET)).toBe(vn('2024-06-13T07:00:00'));
  });

  it('schedules the default 2 h and 24 h reminders from the opening time', () => {
    // Opened 16:00: 18:00 is fine; 24 h later is 16:00 the next day.
    expect(reminderTimes(vn('2024-06-12T16:00:00'), [120, 1440], TZ, QUIET)).toEqual([vn('2024-06-12T18:00:00'), vn('2024-06-13T16:00:00')]);
    // Opened 20:00: 22:00 falls in quiet hours and goes to 07:00.
    expect(reminderTimes(vn('2024-06-12T20:00:00'), [120, 1440], TZ, QUIET)).toEqual([vn('2024-06-13T07:00:00'), vn('2024-06-13T20:00:00')]);
  });

  it('handles quiet hours that do not span midnight', () => {
    expect(outsideQuietHours(vn('2024-06-12T12:30:00'), TZ, { from: '12:00', to: '13:30' })).toBe(vn('2024-06-12T13:30:00'));
  });
});
