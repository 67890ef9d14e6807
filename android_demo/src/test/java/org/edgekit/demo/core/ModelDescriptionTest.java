package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.IOException;

import org.junit.Test;

public class ModelDescriptionTest {
    static final String ZOO = "{\"input_shape\": [1, 3, 224, 224], \"preprocess\": {\"resize_short\": 256, "
            + "\"resize_size\": null, \"interpolation\": \"bilinear\", \"crop\": [224, 224], "
            + "\"scale\": 0.00392156862745098, \"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225], "
            + "\"channel_order\": \"RGB\"}, \"labels\": [\"tench\", \"goldfish\"], "
            + "\"source\": \"zoo (PaddleClas ImageNet eval)\"}";
    static final String TEXT_LINE = "{\"input_shape\": [-1, 3, 48, 192], \"preprocess\": {\"resize_short\": null, "
            + "\"resize_size\": [192, 48], \"interpolation\": \"nearest\", \"crop\": null, \"scale\": 0.5, "
            + "\"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"channel_order\": \"BGR\"}, "
            + "\"labels\": null, \"source\": \"/models/textline/inference.yml\"}";

    @Test
    public void readsEdgekitsJson() throws IOException {
        ModelDescription d = ModelDescription.read(new ByteArrayInputStream(ZOO.getBytes("UTF-8")));
        assertArrayEquals(new long[] {1, 3, 224, 224}, d.inputShape);
        assertEquals(256, d.preprocess.resizeShort);
        assertEquals(0, d.preprocess.resizeWidth);
        assertEquals(224, d.preprocess.cropHeight);
        assertEquals((float) (1.0 / 255.0), d.preprocess.scale, 0f);
        assertArrayEquals(Preprocessor.IMAGENET_STD, d.preprocess.std, 0f);
        assertEquals("RGB", d.preprocess.channelOrder());
        assertArrayEquals(new String[] {"tench", "goldfish"}, d.labels);
        assertEquals("zoo (PaddleClas ImageNet eval)", d.source);
    }

    @Test
    public void fixedSizeBgrWithoutLabels() {
        ModelDescription d = ModelDescription.parse(TEXT_LINE);
        assertEquals(192, d.preprocess.resizeWidth);
        assertEquals(48, d.preprocess.resizeHeight);
        assertEquals(0, d.preprocess.resizeShort);
        assertTrue(!d.preprocess.crops() && d.preprocess.bgr);
        assertEquals("nearest", d.preprocess.interpolation);
        assertNull(d.labels);
        assertArrayEquals(new int[] {192, 48}, d.preprocess.fixedOutputSize());
    }

    private static void refused(String json, String... words) {
        try {
            ModelDescription.parse(json);
            fail("no error for " + json);
        } catch (IllegalArgumentException e) {
            for (String word : words) {
                assertTrue(e.getMessage(), e.getMessage().contains(word));
            }
        }
    }

    @Test
    public void whatTheAppCannotFeedIsRefusedWithItsName() {
        refused(ZOO.replace("\"bilinear\"", "\"bicubic\""), "bicubic");
        refused(ZOO.replace("\"RGB\"", "\"GBR\""), "GBR");
        refused(ZOO.replace("[1, 3, 224, 224]", "[1, 1, 224, 224]"), "[1, 1, 224, 224]");
        refused(ZOO.replace("[1, 3, 224, 224]", "[1, 3, 224, 200]"), "224x224", "[1, 3, 224, 200]");
        refused(ZOO.replace("\"crop\": [224, 224]", "\"crop\": [224]"), "crop");
        refused(ZOO.replace("\"scale\": 0.00392156862745098, ", ""), "scale");
        refused("not json", "description.json");
    }
}
