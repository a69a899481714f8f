import { describe, expect, it } from 'vitest';
import { banner } from '../src/rejections';


describe('the sync banner', () => {
  it('says the centre cannot be reached and when the tablet tries again', () => {
    const b = banner(3, 0, '14:05');
    expect(b.text).toContain('không kết nối được máy chủ');
    expect(b.text).toContain('14:05');
    expect(b.text).toContain('3 việc');
    expect(b.cls).toBe('banner warn');
  });
  it('says only what waits while the centre has not been found missing', () => {
    expect(banner(3, 0).text).toBe('Chưa đồng bộ: 3 việc');
    expect(banner(0, 0, '14:05').text).toBe('Đã đồng bộ hết');
  });
});
