package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;

import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;

/**
 * The Java code against edgekit and OpenCV on the host, on files that
 * {@code tests/test_app_java.py} writes at test time (it passes their folder in the system
 * property {@code edgekit.crosscheck}). {@code cases.tsv} there lists, one per line:
 * <pre>
 *   resize  SRC.pnm  DST.pnm  FILTER          cv2.resize(SRC, DST's size, INTER_LINEAR/_NEAREST/_LANCZOS4) == DST
 *   orient  STORED.ppm  K  UPRIGHT.ppm        cv2.imdecode's EXIF orientation K
 *   golden  RGB.ppm  TENSOR.f32  DESC.json  H  W  TOLERANCE
 *                                             edgekit's preprocessing of RGB per the description DESC
 *                                             (description.json as the APK carries it): an H x W tensor
 * </pre>
 * Without the property these tests are skipped (the summary says so).
 */
public class CrossCheckTest {
    private File folder;
    private final List<String[]> cases = new ArrayList<String[]>();

    @Before
    public void readCases() throws IOException {
        String dir = System.getProperty("edgekit.crosscheck");
        Assume.assumeTrue("no -Dedgekit.crosscheck=DIR (pytest tests/test_app_java.py writes it)", dir != null);
        folder = new File(dir);
        BufferedReader reader = new BufferedReader(new InputStreamReader(
                new FileInputStream(new File(folder, "cases.tsv")), "UTF-8"));
        try {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (!line.trim().isEmpty()) {
                    cases.add(line.trim().split("\t"));
                }
            }
        } finally {
            reader.close();
        }
    }

    private List<String[]> casesOf(String kind) {
        List<String[]> chosen = new ArrayList<String[]>();
        for (String[] c : cases) {
            if (c[0].equals(kind)) {
                chosen.add(c);
            }
        }
        assertTrue("cases.tsv has no '" + kind + "' case", !chosen.isEmpty());
        return chosen;
    }

    @Test
    public void resizeEqualsOpenCvByteForByte() throws IOException {
        List<String> mismatches = new ArrayList<String>();
        for (String[] c : casesOf("resize")) {
            Image8 source = Netpbm.read(new File(folder, c[1]));
            Image8 expected = Netpbm.read(new File(folder, c[2]));
            Image8 actual = c[3].equals("nearest") ? NearestResize.resize(source, expected.width(), expected.height())
                    : c[3].equals("lanczos") ? LanczosResize.resize(source, expected.width(), expected.height())
                    : LinearResize.resize(source, expected.width(), expected.height());
            String difference = firstDifference(expected, actual);
            if (difference != null) {
                mismatches.add(c[1] + " " + c[3] + " " + source.width() + "x" + source.height() + "x" + source.channels()
                        + " -> " + expected.width() + "x" + expected.height() + ": " + difference);
            }
        }
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " resize cases differ from OpenCV, e.g. " + mismatches.get(0));
        }
    }

    @Test
    public void orientationEqualsOpenCvImdecode() throws IOException {
        for (String[] c : casesOf("orient")) {
            Image8 stored = Netpbm.read(new File(folder, c[1]));
            int orientation = Integer.parseInt(c[2]);
            Image8 expected = Netpbm.read(new File(folder, c[3]));
            Image8 actual = Image8.copyOf(Orientation.upright(stored, orientation));
            String difference = firstDifference(expected, actual);
            assertEquals("EXIF orientation " + orientation + " of " + c[1], null, difference);
        }
    }

    @Test
    public void preprocessingEqualsEdgekitGoldenTensor() throws IOException {
        for (String[] c : casesOf("golden")) {
            Image8 rgb = Netpbm.read(new File(folder, c[1]));
            float[] expected = Netpbm.readFloats(new File(folder, c[2]));
            ModelDescription description = ModelDescription.parse(
                    new String(Netpbm.readAll(new File(folder, c[3])), "UTF-8"));
            InputTensor actual = Preprocessor.forModel(description).apply(rgb);
            long[] shape = {1, 3, Long.parseLong(c[4]), Long.parseLong(c[5])};
            String what = c[2] + " (" + description.preprocess + ")";
            assertArrayEquals(what + " shape", shape, actual.shape);
            assertEquals(what + " length", expected.length, actual.data.length);
            assertArrayEquals(what, expected, actual.data, Float.parseFloat(c[6]));
        }
    }

    /** Null when equal, else where and how the two images first differ. */
    static String firstDifference(Image8 expected, Image8 actual) {
        if (expected.width() != actual.width() || expected.height() != actual.height()
                || expected.channels() != actual.channels()) {
            return "size " + actual.width() + "x" + actual.height() + "x" + actual.channels() + " instead of "
                    + expected.width() + "x" + expected.height() + "x" + expected.channels();
        }
        byte[] e = expected.pixels();
        byte[] a = actual.pixels();
        int count = 0;
        int first = -1;
        for (int i = 0; i < e.length; i++) {
            if (e[i] != a[i]) {
                count++;
                first = first < 0 ? i : first;
            }
        }
        if (count == 0) {
            return null;
        }
        int pixel = first / expected.channels();
        return count + " bytes differ; first at x=" + (pixel % expected.width()) + " y=" + (pixel / expected.width())
                + " c=" + (first % expected.channels()) + ": " + (a[first] & 0xff) + " instead of " + (e[first] & 0xff);
    }
}
