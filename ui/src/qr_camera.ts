// Reading a printed QR code with the tablet's camera: the supervisor's page prints the
// enrollment link `fieldpost://enroll?intake=<address>&code=<code>` as one. This module opens
// the back camera, looks at a few frames a second, and hands over the first code that the
// caller accepts. Loaded only when the enumerator asks to scan (the decoder is most of its
// weight), and built as a chunk that imports nothing of the app's, so that a browser with a
// fake camera can test it as shipped (tests/web).

import jsQR from 'jsqr';

/** Why no link came: no camera on this device, or the camera was refused or failed. */
export type CameraProblem = 'no_camera' | 'camera_refused' | 'camera_failed';

export interface Scan<T> {
  /** Resolves with the first accepted code seen; rejects with a `CameraProblem`. */
  found: Promise<T>;
  /** Stops the camera (the link promise then never resolves). */
  stop: () => void;
}

/** The longest side frames are decoded at: big enough for a code across a third of the view. */
const DECODE_SIDE = 640;
const FRAME_INTERVAL_MS = 150;

/** Whether this webview can open a camera at all (WebKitGTK exposes it only when enabled). */
export function cameraAvailable(): boolean {
  return typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
}

function problemOf(error: unknown): CameraProblem {
  const name = (error as { name?: string })?.name ?? '';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'no_camera';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'camera_refused';
  return 'camera_failed';
}

/**
 * Shows the camera in `video` and reads QR codes until `accept` takes one (returns non-null).
 * A QR code it does not take (a parcel label, a web address) is passed over, not reported.
 */
export function scanQrCode<T>(video: HTMLVideoElement, accept: (text: string) => T | null): Scan<T> {
  let stream: MediaStream | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
  const found = new Promise<T>((resolve, reject) => {
    if (!cameraAvailable()) {
      reject('no_camera' satisfies CameraProblem);
      return;
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false })
      .then(async (s) => {
        stream = s;
        if (stopped) return stop();
        video.srcObject = s;
        video.muted = true;
        video.setAttribute('playsinline', '');
        await video.play().catch(() => undefined);
        const canvas = document.createElement('canvas');
        const context = canvas.getContext('2d', { willReadFrequently: true });
        if (!context) throw new Error('no 2d canvas');
        const look = () => {
          if (stopped) return;
          const text = readFrame(video, canvas, context);
          const taken = text === null ? null : accept(text);
          if (taken !== null) {
            stop();
            resolve(taken);
            return;
          }
          timer = setTimeout(look, FRAME_INTERVAL_MS);
        };
        look();
      })
      .catch((error) => {
        stop();
        reject(problemOf(error));
      });
  });
  return { found, stop };
}

function readFrame(video: HTMLVideoElement, canvas: HTMLCanvasElement, context: CanvasRenderingContext2D): string | null {
  const { videoWidth: w, videoHeight: h } = video;
  if (!w || !h) return null;
  const scale = Math.min(1, DECODE_SIDE / Math.max(w, h));
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
  return code ? code.data : null;
}
