package org.edgekit.demo.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * Test-side readers for the raw files the Python tests write: Netpbm images (P5 gray, P6 RGB,
 * P7 with any depth, 8-bit) and little-endian float32 arrays.
 */
final class Netpbm {
    private Netpbm() {
    }

    static Image8 read(File file) throws IOException {
        byte[] data = readAll(file);
        int[] pos = {0};
        String magic = token(data, pos);
        int width;
        int height;
        int channels;
        if (magic.equals("P5") || magic.equals("P6")) {
            width = Integer.parseInt(token(data, pos));
            height = Integer.parseInt(token(data, pos));
            int maxval = Integer.parseInt(token(data, pos));
            check(maxval == 255, file, "maxval " + maxval);
            channels = magic.equals("P5") ? 1 : 3;
            pos[0]++; // the single whitespace byte before the pixels
        } else if (magic.equals("P7")) {
            Map<String, String> header = new HashMap<String, String>();
            for (String key = token(data, pos); !key.equals("ENDHDR"); key = token(data, pos)) {
                header.put(key, token(data, pos));
            }
            width = Integer.parseInt(header.get("WIDTH"));
            height = Integer.parseInt(header.get("HEIGHT"));
            channels = Integer.parseInt(header.get("DEPTH"));
            check("255".equals(header.get("MAXVAL")), file, "maxval " + header.get("MAXVAL"));
            pos[0]++;
        } else {
            throw new IOException(file + ": not a P5/P6/P7 Netpbm file");
        }
        int size = width * height * channels;
        check(data.length - pos[0] == size, file, "pixel bytes " + (data.length - pos[0]) + " != " + size);
        byte[] pixels = new byte[size];
        System.arraycopy(data, pos[0], pixels, 0, size);
        return new Image8(width, height, channels, pixels);
    }

    static float[] readFloats(File file) throws IOException {
        byte[] data = readAll(file);
        check(data.length % 4 == 0, file, "length " + data.length + " is not a multiple of 4");
        float[] values = new float[data.length / 4];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    static byte[] readAll(File file) throws IOException {
        InputStream in = new FileInputStream(file);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    private static String token(byte[] data, int[] pos) {
        while (pos[0] < data.length && (Character.isWhitespace(data[pos[0]]) || data[pos[0]] == '#')) {
            if (data[pos[0]] == '#') {
                while (pos[0] < data.length && data[pos[0]] != '\n') {
                    pos[0]++;
                }
            } else {
                pos[0]++;
            }
        }
        int start = pos[0];
        while (pos[0] < data.length && !Character.isWhitespace(data[pos[0]])) {
            pos[0]++;
        }
        return new String(data, start, pos[0] - start);
    }

    private static void check(boolean ok, File file, String what) throws IOException {
        if (!ok) {
            throw new IOException(file + ": unexpected " + what);
        }
    }
}
