package org.edgekit.demo.core;

import static org.junit.Assert.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.IOException;

import org.junit.Test;

public class LabelsTest {
    @Test
    public void oneNamePerLineUsesLineNumbers() {
        Labels labels = Labels.parse("tench, Tinca tinca\ngoldfish, Carassius auratus\n");
        assertEquals(2, labels.size());
        assertEquals("tench, Tinca tinca", labels.name(0));
        assertEquals("goldfish, Carassius auratus", labels.name(1));
    }

    @Test
    public void paddleClasIdNameLines() {
        Labels labels = Labels.parse("0 tench, Tinca tinca\r\n1 goldfish, Carassius auratus\r\n999 toilet tissue\r\n");
        assertEquals(1000, labels.size());
        assertEquals("goldfish, Carassius auratus", labels.name(1));
        assertEquals("toilet tissue", labels.name(999));
        assertEquals("class 500", labels.name(500));
    }

    @Test
    public void aPlainListWithSomeNumericNamesStaysPlain() {
        Labels labels = Labels.parse("cat\n3 d printer\ndog");
        assertEquals(3, labels.size());
        assertEquals("3 d printer", labels.name(1));
    }

    @Test
    public void repeatedIdsMeanAPlainList() {
        Labels labels = Labels.parse("1 a\n1 b\n");
        assertEquals(2, labels.size());
        assertEquals("1 b", labels.name(1));
    }

    @Test
    public void unknownIdsGetAPlaceholder() {
        assertEquals("class 7", Labels.parse("a\nb\n").name(7));
    }

    @Test
    public void readsUtf8Streams() throws IOException {
        Labels labels = Labels.read(new ByteArrayInputStream("caf\u00e9\n".getBytes("UTF-8")));
        assertEquals("caf\u00e9", labels.name(0));
    }
}
