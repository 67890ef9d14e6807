package org.edgekit.demo.core;

/** Unpacking Android's 0xAARRGGBB pixels into interleaved RGB bytes. */
public final class Argb {
    private Argb() {
    }

    /** Writes {@code count} pixels of {@code argb} from {@code from} as R, G, B bytes at {@code to}. */
    public static void toRgb(int[] argb, int from, byte[] rgb, int to, int count) {
        for (int i = 0; i < count; i++) {
            int pixel = argb[from + i];
            int o = to + 3 * i;
            rgb[o] = (byte) (pixel >> 16);
            rgb[o + 1] = (byte) (pixel >> 8);
            rgb[o + 2] = (byte) pixel;
        }
    }
}
