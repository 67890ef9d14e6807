package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class OrientationTest {
    // stored 3x2:  a b c
    //              d e f
    private static final Image8 STORED = new Image8(3, 2, 1, new byte[] {'a', 'b', 'c', 'd', 'e', 'f'});

    private static String upright(int orientation) {
        Image8 out = Image8.copyOf(Orientation.upright(STORED, orientation));
        StringBuilder s = new StringBuilder();
        for (int y = 0; y < out.height(); y++) {
            s.append(y > 0 ? "/" : "");
            for (int x = 0; x < out.width(); x++) {
                s.append((char) out.get(x, y, 0));
            }
        }
        return s.toString();
    }

    @Test
    public void allEightOrientations() {
        assertEquals("abc/def", upright(1));
        assertEquals("cba/fed", upright(2));   // mirrored
        assertEquals("fed/cba", upright(3));   // 180°
        assertEquals("def/abc", upright(4));   // flipped
        assertEquals("ad/be/cf", upright(5));  // transposed
        assertEquals("da/eb/fc", upright(6));  // rotated 90° clockwise
        assertEquals("fc/eb/da", upright(7));  // transverse
        assertEquals("cf/be/ad", upright(8));  // rotated 90° counter-clockwise
        assertEquals("abc/def", upright(0));   // unknown: as stored
    }

    @Test
    public void swappedAxes() {
        assertArrayEquals(new boolean[] {false, false, false, false, true, true, true, true},
                new boolean[] {Orientation.swapsAxes(1), Orientation.swapsAxes(2), Orientation.swapsAxes(3),
                    Orientation.swapsAxes(4), Orientation.swapsAxes(5), Orientation.swapsAxes(6),
                    Orientation.swapsAxes(7), Orientation.swapsAxes(8)});
    }
}
