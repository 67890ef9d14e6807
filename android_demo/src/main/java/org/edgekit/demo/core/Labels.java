package org.edgekit.demo.core;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Class names by class id, read from a label file in either of the two usual formats:
 * <ul>
 *   <li>edgekit's {@code imagenet1k_labels.txt}: one name per line, the line number is the id;</li>
 *   <li>PaddleClas's {@code imagenet1k_label_list.txt}: {@code "<id> <name>"} on each line.</li>
 * </ul>
 * A file is read as the second format only when every non-blank line starts with an id and the
 * ids are distinct, so a plain list whose names happen to start with digits stays a plain list.
 */
public final class Labels {
    private static final Pattern ID_LINE = Pattern.compile("^(\\d+)\\s+(\\S.*)$");

    private final Map<Integer, String> names;
    private final int size;

    private Labels(Map<Integer, String> names, int size) {
        this.names = names;
        this.size = size;
    }

    public static Labels parse(String text) {
        List<String> lines = new ArrayList<String>();
        for (String line : text.split("\r?\n", -1)) {
            lines.add(line);
        }
        // A trailing newline is not an extra (empty) class.
        while (!lines.isEmpty() && lines.get(lines.size() - 1).trim().isEmpty()) {
            lines.remove(lines.size() - 1);
        }
        Labels withIds = parseWithIds(lines);
        return withIds != null ? withIds : parsePlain(lines);
    }

    public static Labels read(InputStream stream) throws IOException {
        return parse(readText(stream));
    }

    /** No names: every class is shown as {@code "class <id>"} (a model whose description has no labels). */
    public static Labels classIds() {
        return new Labels(new HashMap<Integer, String>(), 0);
    }

    /** The whole stream as UTF-8 text. */
    static String readText(InputStream stream) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(stream, Charset.forName("UTF-8")));
        StringBuilder text = new StringBuilder();
        char[] buffer = new char[8192];
        int n;
        while ((n = reader.read(buffer)) > 0) {
            text.append(buffer, 0, n);
        }
        return text.toString();
    }

    private static Labels parsePlain(List<String> lines) {
        Map<Integer, String> names = new HashMap<Integer, String>();
        for (int i = 0; i < lines.size(); i++) {
            names.put(i, lines.get(i).trim());
        }
        return new Labels(names, lines.size());
    }

    private static Labels parseWithIds(List<String> lines) {
        Map<Integer, String> names = new HashMap<Integer, String>();
        int maxId = -1;
        for (String line : lines) {
            if (line.trim().isEmpty()) {
                continue;
            }
            Matcher m = ID_LINE.matcher(line.trim());
            if (!m.matches() || m.group(1).length() > 9) {
                return null;
            }
            int id = Integer.parseInt(m.group(1));
            if (names.put(id, m.group(2).trim()) != null) {
                return null;
            }
            maxId = Math.max(maxId, id);
        }
        return names.isEmpty() ? null : new Labels(names, maxId + 1);
    }

    /** Number of classes (highest id + 1); 0 for {@link #classIds()}. */
    public int size() {
        return size;
    }

    /** The name of class {@code id}, or {@code "class <id>"} when the file has none for it. */
    public String name(int id) {
        String name = names.get(id);
        return name != null && !name.isEmpty() ? name : "class " + id;
    }
}
