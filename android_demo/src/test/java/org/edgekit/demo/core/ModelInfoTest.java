package org.edgekit.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.IOException;

import org.junit.Test;

public class ModelInfoTest {
    private static final String PROPERTIES = "model.name=MobileNetV3_small_x1_0\n"
            + "model.asset=model.nb\nmodel.sha256=abc123\ndescription.asset=description.json\n"
            + "labels.asset=labels.txt\nsample.asset=sample.png\n"
            + "runtime.threads=4\nruntime.power_mode=LITE_POWER_HIGH\n";

    private static ModelInfo read(String text) throws IOException {
        return ModelInfo.read(new ByteArrayInputStream(text.getBytes("ISO-8859-1")));
    }

    @Test
    public void readsWhatTheBuildWrites() throws IOException {
        ModelInfo info = read(PROPERTIES);
        assertEquals("MobileNetV3_small_x1_0", info.modelName);
        assertEquals("model.nb", info.modelAsset);
        assertEquals("description.json", info.descriptionAsset);
        assertEquals("labels.txt", info.labelsAsset);
        assertEquals(4, info.defaultThreads);
        assertEquals("LITE_POWER_HIGH", info.defaultPowerMode);
    }

    @Test
    public void aModelWithoutLabelsHasNoLabelAsset() throws IOException {
        assertNull(read(PROPERTIES.replace("labels.asset=labels.txt", "labels.asset=")).labelsAsset);
    }

    @Test
    public void escapedNamesReadBack() throws IOException {
        // edgekit writes non-ASCII as \\uXXXX escapes (surrogate pairs beyond the BMP)
        ModelInfo info = read(PROPERTIES.replace("model.name=MobileNetV3_small_x1_0", "model.name=caf\\u00e9 \\ud83d\\ude00"));
        assertEquals("caf\u00e9 \ud83d\ude00", info.modelName);
    }

    @Test
    public void aMissingKeyIsNamed() throws IOException {
        try {
            read(PROPERTIES.replace("description.asset=description.json\n", ""));
            fail("no error for a missing key");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("description.asset"));
        }
    }

    @Test
    public void powerModesAreChecked() {
        assertEquals("LITE_POWER_NO_BIND", PowerModes.check("LITE_POWER_NO_BIND"));
        try {
            PowerModes.check("TURBO");
            fail("no error for an unknown power mode");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("TURBO") && e.getMessage().contains("LITE_POWER_HIGH"));
        }
    }
}
